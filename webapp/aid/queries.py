"""家庭共济 read side: what the 成员列表, member, add and 被绑定列表 pages show.

Each list loads in a fixed number of queries however many rows it has (people, invitations
and 今年已用 sums in batches). Nothing here writes: a 待确认 member whose invitation can no
longer be answered is *shown* 已过期 (``shown_status``) until ``services.expire_invitations``
or the next change to the group records it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.aid.notices import refusal_text, refuse
from webapp.aid.rules import (
    KIND,
    check_owner,
    count_text,
    group_is_full,
    rules_for,
    window_text,
)
from webapp.aid.states import OPEN_STATES, AidGroupStatus, AidMemberStatus
from webapp.codes.states import SettlementStatus
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.kinship.access import showable_people
from webapp.models import (
    AidGroup,
    AidMember,
    InsuredPerson,
    Invitation,
    KinshipBinding,
    Settlement,
)
from webapp.policy import AidRules, relation_label

# How many ended memberships the 成员列表 still shows (newest first).
CLOSED_SHOWN = 20


# --- loading ------------------------------------------------------------------------------

def group_of(owner: InsuredPerson) -> AidGroup | None:
    """The owner's group, if they created one."""
    return db.session.scalar(select(AidGroup).where(AidGroup.owner_person_id == owner.id))


def owner_member(owner: InsuredPerson, public_id: str) -> AidMember:
    """A member row of the owner's group (404 for anyone else)."""
    member = db.session.scalar(
        select(AidMember).join(AidGroup, AidGroup.id == AidMember.group_id)
        .where(AidMember.public_id == public_id, AidGroup.owner_person_id == owner.id)
    )
    if member is None:
        raise refuse("member_not_found", error=NotFound)
    return member


def my_membership(person: InsuredPerson, public_id: str) -> AidMember:
    """A membership of the person themselves (404 for anyone else)."""
    member = db.session.scalar(
        select(AidMember).where(AidMember.public_id == public_id,
                                AidMember.person_id == person.id)
    )
    if member is None:
        raise refuse("member_not_found", error=NotFound)
    return member


def open_members(group: AidGroup) -> list[AidMember]:
    """The group's open (待确认 / 已生效) members as stored."""
    return list(db.session.scalars(
        select(AidMember).where(AidMember.group_id == group.id,
                                AidMember.status.in_(OPEN_STATES))
        .order_by(AidMember.id)
    ))


def open_invitations(member_ids: Iterable[int], at: datetime | None = None
                     ) -> dict[int, Invitation]:
    """member id → its newest invitation that may still be answered (one query)."""
    found = invitations.open_for_targets(KIND, member_ids, at)
    return {member_id: open_ones[-1] for member_id, open_ones in found.items()}


def shown_status(member: AidMember, invitation: Invitation | None) -> AidMemberStatus:
    """The state a page shows: 待确认 without an open invitation reads 已过期."""
    if member.status == AidMemberStatus.PENDING_CONFIRM and invitation is None:
        return AidMemberStatus.EXPIRED
    return AidMemberStatus(member.status)


def places_taken(group: AidGroup, at: datetime | None = None) -> int:
    """How many members occupy a place now (已生效, and 待确认 still open to an answer)."""
    members = open_members(group)
    pending = [m.id for m in members if m.status == AidMemberStatus.PENDING_CONFIRM]
    live = open_invitations(pending, at)
    return sum(1 for m in members if m.status == AidMemberStatus.ACTIVE or m.id in live)


def can_create(owner: InsuredPerson) -> str:
    """'' when the person may create a group now, else the reason (for the start page)."""
    try:
        check_owner(owner)
    except DomainError as err:
        return err.message
    if group_of(owner) is not None:
        return refuse("exists").message
    return ""


def pickable_bindings(owner: InsuredPerson) -> list[KinshipBinding]:
    """The owner's 已绑定 亲情账户 relatives (offered to pick from)."""
    return [binding for _, binding in showable_people(owner) if binding is not None]


# --- 今年已用 -------------------------------------------------------------------------------

def year_range(day: date) -> tuple[datetime, datetime]:
    """The naive-UTC bounds of the China calendar year of ``day``."""
    return (clock.china_midnight_utc(date(day.year, 1, 1)),
            clock.china_midnight_utc(date(day.year + 1, 1, 1)))


def _spent(day: date | None, *where) -> list[tuple[int, int, int]]:
    """(owner id, person id, fen) paid by 共济 this China year, for the filtered settlements."""
    start, end = year_range(day or clock.today())
    rows = db.session.execute(
        select(Settlement.aid_owner_person_id, Settlement.person_id,
               func.coalesce(func.sum(Settlement.aid_fen), 0))
        .where(*where, Settlement.status == SettlementStatus.SETTLED,
               Settlement.created_at >= start, Settlement.created_at < end)
        .group_by(Settlement.aid_owner_person_id, Settlement.person_id)
    ).all()
    return [(int(owner or 0), int(person), int(total)) for owner, person, total in rows]


def spent_this_year(owner: InsuredPerson, day: date | None = None) -> dict[int, int]:
    """person id → fen paid from the owner's account for them this China year."""
    return {person: total for _, person, total in
            _spent(day, Settlement.aid_owner_person_id == owner.id)}


def spent_from_owners(person: InsuredPerson, owner_ids: Iterable[int],
                      day: date | None = None) -> dict[int, int]:
    """owner id → fen the owner's account paid for the person this China year (one query)."""
    ids = set(owner_ids)
    if not ids:
        return {}
    return {owner: total for owner, _, total in
            _spent(day, Settlement.person_id == person.id,
                   Settlement.aid_owner_person_id.in_(ids))}


# --- 成员列表 -------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberRow:
    """One member as the owner's 成员列表 shows it."""

    member: AidMember
    relation: str
    spent_year_fen: int
    invitation: Invitation | None = None

    @property
    def status(self) -> AidMemberStatus:
        """The state shown (a pending one past its invitation reads 已过期)."""
        return shown_status(self.member, self.invitation)

    @property
    def is_open(self) -> bool:
        """Whether the member occupies a place."""
        return self.status in OPEN_STATES

    @property
    def limits(self) -> str:
        """The authorisation window and cap in words ('' when none)."""
        return window_text(self.member)


def member_rows(group: AidGroup, include_closed: bool = True) -> list[MemberRow]:
    """The group's members: open ones first (newest first), then ended ones."""
    spent = spent_this_year(group.owner)
    members = db.session.scalars(
        select(AidMember).options(selectinload(AidMember.person))
        .where(AidMember.group_id == group.id)
        .order_by(AidMember.created_at.desc(), AidMember.id.desc())
    ).all()
    invitations = open_invitations(
        m.id for m in members if m.status == AidMemberStatus.PENDING_CONFIRM)
    rows = [MemberRow(m, relation_label(m.relation), spent.get(m.person_id, 0),
                      invitations.get(m.id)) for m in members]
    shown, closed = [], 0
    for row in sorted(rows, key=lambda r: 0 if r.is_open else 1):
        if not row.is_open:
            closed += 1
            if not include_closed or closed > CLOSED_SHOWN:
                continue
        shown.append(row)
    return shown


@dataclass(frozen=True)
class GroupPage:
    """家庭共济 home: the owner's group and 成员列表, or how to open one."""

    group: AidGroup | None
    rules: AidRules
    rows: list[MemberRow]
    open_count: int
    full: bool
    refusal: str  # why the person may not open a group ('' when they may, or have one)
    joined_count: int  # groups the person belongs to (shown when they have none of their own)

    @property
    def full_text(self) -> str:
        """"家庭共济成员已达上限（8人）" when the group is full, else ''."""
        return refusal_text("max_members", limit=self.rules.max_members) if self.full else ""


def group_page(owner: InsuredPerson) -> GroupPage:
    """What the 家庭共济 home page shows."""
    group = group_of(owner)
    rules = rules_for(owner)
    if group is None:
        return GroupPage(None, rules, [], 0, False, can_create(owner), len(joined_rows(owner)))
    rows = member_rows(group)
    used = sum(1 for r in rows if r.is_open)
    return GroupPage(group, rules, rows, used, group_is_full(used, rules), "", 0)


@dataclass(frozen=True)
class AddPage:
    """添加共济成员: the place count, whether the group is full, relatives to pick from."""

    group: AidGroup
    rules: AidRules
    bindings: list[KinshipBinding]
    counter: str
    full: bool

    @property
    def full_text(self) -> str:
        """"家庭共济成员已达上限（8人）" when the group is full, else ''."""
        return refusal_text("max_members", limit=self.rules.max_members) if self.full else ""


def add_page(owner: InsuredPerson) -> AddPage | None:
    """What the add page shows (None when the owner has no group)."""
    group = group_of(owner)
    if group is None:
        return None
    rules = rules_for(owner)
    used = places_taken(group)
    return AddPage(group, rules, pickable_bindings(owner), count_text(used, rules),
                   group_is_full(used, rules))


@dataclass(frozen=True)
class MemberPage:
    """One member of the owner's group: state, limits, this year's spending, the invitation."""

    member: AidMember
    status: AidMemberStatus
    relation: str
    rules: AidRules
    invitation: Invitation | None
    spent_year_fen: int
    limits: str

    @property
    def is_open(self) -> bool:
        """Whether the membership can still be changed or ended."""
        return self.status in OPEN_STATES


def member_page(owner: InsuredPerson, public_id: str) -> MemberPage:
    """What the owner's page of one member shows (404 for anyone else's)."""
    m = owner_member(owner, public_id)
    inv = None
    if m.status == AidMemberStatus.PENDING_CONFIRM:
        inv = open_invitations([m.id]).get(m.id)
    spent = spent_this_year(owner).get(m.person_id, 0)
    return MemberPage(m, shown_status(m, inv), relation_label(m.relation), rules_for(owner),
                      inv, spent, window_text(m))


# --- 被绑定列表 -----------------------------------------------------------------------------

@dataclass(frozen=True)
class JoinedRow:
    """One group the person belongs to (or is invited to), for 被绑定列表."""

    member: AidMember
    owner: InsuredPerson
    relation: str
    usable: bool  # whether the owner's balance could pay for them today
    reason: str  # why not, in words ('' when usable)
    spent_year_fen: int
    invitation: Invitation | None = None

    @property
    def status(self) -> AidMemberStatus:
        """The membership's state (待确认 rows always have an open invitation)."""
        return AidMemberStatus(self.member.status)

    @property
    def limits(self) -> str:
        """The authorisation window and cap in words ('' when none)."""
        return window_text(self.member)


def _unusable_reason(m: AidMember, owner: InsuredPerson, today: date) -> str:
    """Why the owner's balance cannot pay for the member today ('' when it can)."""
    if m.status != AidMemberStatus.ACTIVE:
        return "待您确认"
    if m.group.status != AidGroupStatus.ACTIVE:
        return "共济组已关闭"
    if not owner.is_active:
        return "共济人当前未处于参保状态"
    if not m.covers(today):
        return "不在授权期限内"
    if owner.balance_fen <= 0:
        return "共济人账户余额为0，暂不能支付"
    return ""


def joined_rows(person: InsuredPerson) -> list[JoinedRow]:
    """Groups the person is an open member of (待确认 ones still answerable), newest first."""
    members = db.session.scalars(
        select(AidMember)
        .options(selectinload(AidMember.group).selectinload(AidGroup.owner)
                 .selectinload(InsuredPerson.account))
        .where(AidMember.person_id == person.id, AidMember.status.in_(OPEN_STATES))
        .order_by(AidMember.created_at.desc(), AidMember.id.desc())
    ).all()
    today = clock.today()
    invitations = open_invitations(
        m.id for m in members if m.status == AidMemberStatus.PENDING_CONFIRM)
    spent = spent_from_owners(person, (m.group.owner_person_id for m in members), today)
    rows = []
    for m in members:
        inv = invitations.get(m.id)
        if shown_status(m, inv) not in OPEN_STATES:
            continue
        owner = m.group.owner
        reason = _unusable_reason(m, owner, today)
        rows.append(JoinedRow(m, owner, relation_label(m.relation), not reason, reason,
                              spent.get(owner.id, 0), inv))
    return rows
