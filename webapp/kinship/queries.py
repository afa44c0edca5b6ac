"""What the 亲情账户 pages show: page models, read-time states, the member counter.

Pages never write. Where a sweep (``webapp.kinship.sweeps``) has not run yet, a binding reads
as what the sweep will make it: a 待确认 binding whose every invitation lapsed unanswered reads
已过期, an 已绑定 one whose self-confirmation date passed reads 已解除, and a child who has
turned 16 reads 待本人确认 (with the date the sweep will set).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.domain import NotFound
from webapp.extensions import db
from webapp.idnumber import date_turning
from webapp.invitations import services as invitations
from webapp.invitations.models import Invitation
from webapp.invitations.states import InvitationOutcome
from webapp.kinship.models import KinshipBinding
from webapp.kinship.states import AWAITING_SELF, OPEN, BindingStatus, Shown
from webapp.kinship.steps import KIND, MSG_NOT_FOUND, awaits_member, rules_of
from webapp.models import InsuredPerson
from webapp.policy import policy_for, relation_label

CLOSED_SHOWN = 20


# --- conditions the sweeps and the pages share --------------------------------------------

def invitation_of_binding(*conditions: Any) -> Any:
    """EXISTS an invitation of the binding (of the outer query) matching the conditions."""
    return exists().where(Invitation.kind == KIND, Invitation.target_id == KinshipBinding.id,
                          *conditions)


def invitation_lapsed(now: datetime) -> ColumnElement[bool]:
    """待确认, nothing left to answer, and an invitation that expired unanswered."""
    return and_(
        KinshipBinding.status == BindingStatus.PENDING_CONFIRM,
        ~invitation_of_binding(Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
                               Invitation.expires_at > now),
        invitation_of_binding(Invitation.used_at.is_(None), Invitation.expires_at <= now),
    )


def confirmation_lapsed(today: date | BindParameter[date]) -> ColumnElement[bool]:
    """已绑定 and the relative's self-confirmation date has passed."""
    return and_(KinshipBinding.status == BindingStatus.ACTIVE,
                KinshipBinding.self_confirm_due.is_not(None),  # no NULL in a NOT (...)
                KinshipBinding.self_confirm_due < today)


def occupying(now: datetime, today: date) -> ColumnElement[bool]:
    """Bindings that hold a slot of the member limit (and block a duplicate)."""
    return and_(KinshipBinding.status.in_(OPEN),
                ~or_(invitation_lapsed(now), confirmation_lapsed(today)))


def stale_ids(bindings: Iterable[KinshipBinding], now: datetime, today: date) -> set[int]:
    """Those of the bindings a sweep would close (one query)."""
    ids = [b.id for b in bindings if b.status in (BindingStatus.PENDING_CONFIRM,
                                                  BindingStatus.ACTIVE)]
    if not ids:
        return set()
    return set(db.session.scalars(select(KinshipBinding.id).where(
        KinshipBinding.id.in_(ids), or_(invitation_lapsed(now), confirmation_lapsed(today)))))


# --- room for another member --------------------------------------------------------------

@dataclass(frozen=True)
class Room:
    """The holder's members counted against the policy limit (pending ones count)."""

    used: int
    limit: int

    @property
    def full(self) -> bool:
        """No slot left."""
        return self.used >= self.limit

    @property
    def text(self) -> str:
        """"已绑定 3/5"."""
        return f"已绑定 {self.used}/{self.limit}"


def room(holder: InsuredPerson) -> Room:
    """The one place that counts the holder's members against ``kinship.max_members``."""
    used = db.session.scalar(
        select(func.count(KinshipBinding.id)).where(
            KinshipBinding.holder_person_id == holder.id,
            occupying(clock.now(), clock.today()),
        )
    ) or 0
    return Room(used, policy_for(holder.region_code).kinship.max_members)


# --- turning 16 (read side) ---------------------------------------------------------------

def turning_date(binding: KinshipBinding) -> date:
    """The day the member reaches the binding policy's self-confirm age."""
    return date_turning(binding.member.birth_date, rules_of(binding).self_confirm_age)


def needs_self_confirm(binding: KinshipBinding, today: date) -> bool:
    """Created before the member's 16th birthday, which has come (whether they confirmed
    through an invitation already is checked by ``needs_asking``)."""
    birthday = turning_date(binding)
    return birthday <= today and clock.to_china(binding.created_at).date() < birthday


def confirmed_by_invitation(binding: KinshipBinding) -> bool:
    """Whether the relative ever accepted an invitation of this binding."""
    return bool(db.session.scalar(select(exists().where(
        Invitation.kind == KIND, Invitation.target_id == binding.id,
        Invitation.outcome == InvitationOutcome.ACCEPTED))))


def needs_asking(binding: KinshipBinding, today: date) -> bool:
    """已绑定, not asked yet, and the relative turned 16 since it was made, never confirming."""
    return (binding.status == BindingStatus.ACTIVE and binding.self_confirm_due is None
            and needs_self_confirm(binding, today) and not confirmed_by_invitation(binding))


def self_confirm_due_for(binding: KinshipBinding, today: date) -> date:
    """The date by which the relative must confirm (the birthday plus the grace days)."""
    grace = rules_of(binding).turning_age_grace_days
    return max(turning_date(binding) + timedelta(days=grace), today)


# --- rows ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One binding as a page shows it (read-time state, relation label, open invitation)."""

    binding: KinshipBinding
    relation: str
    state: BindingStatus
    awaiting_self: bool = False
    self_confirm_due: date | None = None
    invitation: Invitation | None = None

    @property
    def pill(self) -> BindingStatus | Shown:
        """What ``state_pill`` shows: the state, or 待本人确认."""
        return AWAITING_SELF if self.awaiting_self else self.state

    @property
    def label(self) -> str:
        """The Chinese label of the pill."""
        return self.pill.label

    @property
    def is_open(self) -> bool:
        """Whether the binding still occupies a slot."""
        return self.state in OPEN


def rows(bindings: Sequence[KinshipBinding], with_invitation: bool = False) -> list[Row]:
    """The bindings as rows, in their order."""
    now, today = clock.now(), clock.today()
    stale = stale_ids(bindings, now, today)
    return [_row(b, b.id in stale, today, with_invitation) for b in bindings]


def _row(binding: KinshipBinding, stale: bool, today: date, with_invitation: bool) -> Row:
    state = BindingStatus(binding.status)
    if stale:
        state = (BindingStatus.EXPIRED if state == BindingStatus.PENDING_CONFIRM
                 else BindingStatus.ENDED)
    due = binding.self_confirm_due if state == BindingStatus.ACTIVE else None
    if state == BindingStatus.ACTIVE and due is None and needs_asking(binding, today):
        due = self_confirm_due_for(binding, today)
    inv = None
    if with_invitation and not stale and awaits_member(binding):
        found = invitations.open_for(KIND, binding.id)
        inv = found[-1] if found else None
    return Row(binding, relation_label(binding.relation), state, due is not None, due, inv)


def row(binding: KinshipBinding, with_invitation: bool = False) -> Row:
    """One binding as a row."""
    return rows([binding], with_invitation)[0]


# --- loaders ------------------------------------------------------------------------------

def _binding_where(side: Any, person: InsuredPerson, public_id: str) -> KinshipBinding:
    binding = db.session.scalar(select(KinshipBinding).where(
        KinshipBinding.public_id == public_id, side == person.id))
    if binding is None:
        raise NotFound(MSG_NOT_FOUND)
    return binding


def holder_binding(holder: InsuredPerson, public_id: str) -> KinshipBinding:
    """A binding in which the person is the holder (404 for anyone else)."""
    return _binding_where(KinshipBinding.holder_person_id, holder, public_id)


def member_binding(member: InsuredPerson, public_id: str) -> KinshipBinding:
    """A binding in which the person is the bound relative (404 for anyone else)."""
    return _binding_where(KinshipBinding.member_person_id, member, public_id)


# --- page models --------------------------------------------------------------------------

@dataclass(frozen=True)
class FamilyPage:
    """家庭 › 亲情账户: my members (open first), closed ones, and who waits for me."""

    open_rows: list[Row]
    closed_rows: list[Row]
    room: Room
    bound_me_count: int
    bound_me_waiting: int


def family_page(person: InsuredPerson) -> FamilyPage:
    """What family.index shows."""
    mine = rows(db.session.scalars(
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.member))
        .where(KinshipBinding.holder_person_id == person.id)
        .order_by(KinshipBinding.created_at.desc(), KinshipBinding.id.desc())
    ).all())
    to_me = [r for r in bound_me_rows(person)
             if r.state in (BindingStatus.ACTIVE, BindingStatus.PENDING_CONFIRM)]
    open_rows = [r for r in mine if r.is_open]
    return FamilyPage(
        open_rows=open_rows,
        closed_rows=[r for r in mine if not r.is_open][:CLOSED_SHOWN],
        room=room(person),
        bound_me_count=len(to_me),
        bound_me_waiting=sum(1 for r in to_me
                             if r.state == BindingStatus.PENDING_CONFIRM or r.awaiting_self),
    )


def bound_me_rows(member: InsuredPerson, with_invitation: bool = False) -> list[Row]:
    """绑定我的人: who may show my code (已绑定) or waits for my answer (待确认/待审核)."""
    found = rows(db.session.scalars(
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.holder))
        .where(KinshipBinding.member_person_id == member.id, KinshipBinding.status.in_(OPEN))
        .order_by(KinshipBinding.created_at.desc(), KinshipBinding.id.desc())
    ).all(), with_invitation)
    return [r for r in found if r.is_open]


@dataclass(frozen=True)
class WizardResult:
    """The wizard's last page: the new binding, its relation and its invitation's expiry."""

    binding: KinshipBinding
    relation: str
    expires_at: datetime | None


def wizard_result(holder: InsuredPerson, public_id: str | None) -> WizardResult | None:
    """The binding the holder just created (None if it is not theirs)."""
    binding = db.session.scalar(select(KinshipBinding).where(
        KinshipBinding.public_id == public_id, KinshipBinding.holder_person_id == holder.id))
    if binding is None:
        return None
    latest = invitations.latest_for(KIND, binding.id)
    return WizardResult(binding, relation_label(binding.relation),
                        latest.expires_at if latest else None)


def binding_of_letter(letter_id: int) -> KinshipBinding | None:
    """The binding a signed letter belongs to."""
    return db.session.scalar(select(KinshipBinding).where(KinshipBinding.letter_id == letter_id))
