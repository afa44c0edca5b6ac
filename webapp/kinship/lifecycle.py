"""亲情账户 after a binding exists: answering invitations, ending, withdrawing, resending.

Each command looks its event up in ``webapp.kinship.states.TRANSITIONS`` and applies it with
``webapp.kinship.steps.apply`` (lock, apply, audit, notify); the sweeps (expiry, turning 16)
live in ``webapp.kinship.sweeps``.

The kinship invitation handler (kind ``kinship``, face purpose ``kinship_accept``) is registered
with ``webapp.invitations.services`` when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import Conflict, NotFound
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.invitations.handlers import InvitationGone, InvitationHandler, Offer
from webapp.invitations.models import Invitation
from webapp.invitations.states import InvitationOutcome, InvitationStatus
from webapp.kinship import notices, queries, sweeps
from webapp.kinship.models import KinshipBinding
from webapp.kinship.states import HOLDER, MEMBER, SYSTEM, TRANSITIONS, BindingStatus
from webapp.kinship.steps import (
    FACE_PURPOSE,
    KIND,
    MSG_CHANGED,
    MSG_NOT_FOUND,
    MSG_TARGET_GONE,
    apply,
    awaits_member,
    awaits_self_confirm,
    binding_of,
    rules_of,
    self_confirm_expiry,
)
from webapp.models import InsuredPerson, User

__all__ = ["FACE_PURPOSE", "KIND", "MSG_CHANGED", "MSG_NOT_FOUND", "HANDLER", "accept",
           "decline", "end_binding", "resend_invitation"]

ENDED_BY = (HOLDER, MEMBER, SYSTEM)
MEANING = (
    "{holder}可以在就医、购药时代您出示医保码。",
    "费用由您本人的医保账户支付，对方可以查看您的医保消费记录。",
    "您可以随时在“家庭 › 绑定我的人”中解除绑定。",
)

# (answer, what the binding waits for) → (event, audit detail word).
ANSWERS = {
    ("accept", "binding"): ("accept", InvitationOutcome.ACCEPTED.value),
    ("accept", "self_confirm"): ("self_confirm", "self_confirmed"),
    ("decline", "binding"): ("decline", InvitationOutcome.DECLINED.value),
    ("decline", "self_confirm"): ("refuse_self_confirm", "self_confirm_declined"),
}
# Column values an answering event sets besides the state.
ANSWER_CHANGES: dict[str, Callable[[], dict[str, Any]]] = {
    "accept": lambda: {"bound_at": clock.now()},
    "self_confirm": lambda: {"self_confirm_due": None},
}


# --- the invitation handler ---------------------------------------------------------------

class KinshipInvitations(InvitationHandler):
    """Invitations that confirm a 亲情账户 binding (new, or after turning 16)."""

    kind = KIND
    face_purpose = FACE_PURPOSE

    def offer(self, inv: Invitation) -> Offer:
        """The words of the link page: a new binding, or a self-confirmation after 16."""
        binding = binding_of(inv)
        words = notices.names(binding)
        holder = words["holder"]
        meaning = tuple(line.format(**words) for line in MEANING)
        relation = f"您是{holder}的{words['relation']}"
        if awaits_self_confirm(binding) and binding.self_confirm_due is not None:
            age = rules_of(binding).self_confirm_age
            return Offer(
                title="亲情账户本人确认", inviter=holder, relation=relation,
                meaning=(
                    f"您年满{age}周岁前，{holder}已为您绑定亲情账户；现在需要您本人确认。",
                    f"请在{binding.self_confirm_due.isoformat()}前确认，逾期未确认绑定将自动解除。",
                    *meaning,
                ),
                accept_label="确认并进行人脸识别",
                invite_line="请您确认亲情账户绑定",
            )
        return Offer(title="亲情账户绑定邀请", inviter=holder, relation=relation, meaning=meaning)

    def check_open(self, inv: Invitation) -> None:
        """The binding must still wait for the relative (else 邀请已失效)."""
        if not awaits_member(binding_of(inv)):
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")

    def _answer(self, inv: Invitation, person: InsuredPerson, actor: Actor, answer: str) -> None:
        """Apply the invitee's answer to what the binding waits for."""
        binding = binding_of(inv)
        if binding.status == BindingStatus.PENDING_CONFIRM:
            waits = "binding"
        elif awaits_self_confirm(binding):
            waits = "self_confirm"
        else:
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")
        event, word = ANSWERS[(answer, waits)]
        apply(binding, event, MEMBER, actor, changes=ANSWER_CHANGES.get(event, dict)(),
              person=person, detail={"event": word, "invitation": inv.public_id})

    def accepted(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        """待确认 → 已绑定, or a self-confirmation clears its due date."""
        self._answer(inv, person, actor, "accept")

    def declined(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        """待确认 → 已拒绝, or refusing the self-confirmation ends the binding."""
        self._answer(inv, person, actor, "decline")

    def resent(self, old: Invitation, new: Invitation, actor: Actor) -> None:
        """Tell both sides about the fresh link."""
        notices.send(binding_of(new), "resend", HOLDER, new,
                     until=clock.china_time(new.expires_at))

    def expires_at(self, inv: Invitation) -> datetime | None:
        """A self-confirmation link lasts to the end of the due day."""
        return self_confirm_expiry(binding_of(inv))

    def done_url(self, inv: Invitation, outcome: str) -> str:
        """After answering: 绑定我的人."""
        return notices.link(notices.BOUND_ME, binding_of(inv))

    def expire_due(self, now: datetime) -> int:
        """The housekeeping sweep: 待确认 bindings whose invitation lapsed → 已过期."""
        return sweeps.expire_due(now)


HANDLER = invitations.register_handler(KinshipInvitations())


def accept(ref: Invitation | str, user: Any, actor: Actor) -> KinshipBinding:
    """The relative accepts (face pass of purpose ``kinship_accept`` required); committed."""
    return binding_of(invitations.accept(ref, user, actor))


def decline(ref: Invitation | str, user: Any, actor: Actor) -> KinshipBinding:
    """The relative declines; committed."""
    return binding_of(invitations.decline(ref, user, actor))


# --- ending -------------------------------------------------------------------------------

def _binding_for_user(user: User, public_id: str) -> tuple[KinshipBinding, str]:
    """The binding named by public id where the user is the holder or the member (404 else)."""
    person_id = getattr(user, "person_id", None)
    binding = db.session.scalar(select(KinshipBinding).where(KinshipBinding.public_id == public_id))
    if binding is None or person_id is None:
        raise NotFound(MSG_NOT_FOUND)
    if binding.holder_person_id == person_id:
        return binding, HOLDER
    if binding.member_person_id == person_id:
        return binding, MEMBER
    raise NotFound(MSG_NOT_FOUND)


def ending_event(status: str, by: str) -> str:
    """The event by which ``by`` ends a binding in ``status``: 已绑定 → end; a pending request
    is withdrawn by the holder (or the system) and declined / refused by the relative."""
    if status == BindingStatus.ACTIVE:
        return "end"
    if by != MEMBER:
        return "withdraw"
    return "refuse_review" if status == BindingStatus.PENDING_REVIEW else "decline"


def end_binding(binding: KinshipBinding | User, by: str, actor: Actor,
                expect: str | None = None) -> KinshipBinding:
    """End a binding (已绑定 → 已解除) or withdraw/refuse a pending one; committed.

    ``by`` is 'holder', 'member' or 'system'. Also callable as ``end_binding(user, public_id,
    actor)``: the binding is loaded for that user (404 unless holder or member) and ``by``
    follows from their side. The caller has authorised the actor for ``by``. ``expect`` is the
    status the person saw: if it changed meanwhile nothing happens and a Conflict says so.
    """
    if isinstance(binding, User):
        binding, by = _binding_for_user(binding, by)
    if by not in ENDED_BY:
        raise ValueError(f"unknown side {by!r}")
    if expect and binding.status != expect:
        raise Conflict(MSG_CHANGED, code="changed")
    was = binding.status
    event = ending_event(was, by)
    target = TRANSITIONS.step(was, event, by).target
    apply(binding, event, by, actor,
          person=binding.holder if by == MEMBER else binding.member,
          detail={"by": by, "from": was.value, "to": target.value},
          words={"what": "邀请" if was == BindingStatus.PENDING_CONFIRM else "添加申请"})
    db.session.commit()
    return binding


def resend_invitation(binding: KinshipBinding, holder: InsuredPerson,
                      actor: Actor) -> tuple[Invitation, str]:
    """A fresh link for a binding that waits for the relative (the old link stops working).

    Returns the new invitation and its raw token (for the holder to share); committed. A child
    who turned 16 before the sweep ran is asked now (that invitation is the fresh link).
    """
    if binding.holder_person_id != holder.id:
        raise NotFound(MSG_NOT_FOUND)
    if queries.needs_asking(binding, clock.today()):
        asked = sweeps.ask(binding, clock.today())
        if asked is not None:
            return asked
    if not awaits_member(binding):
        raise Conflict("该绑定无需对方确认", code="not_waiting")
    latest = invitations.latest_for(KIND, binding.id)
    if latest is None or latest.used_at is not None:
        # A binding that waits always has an unanswered invitation; make one if it vanished.
        inv, raw = invitations.create(KIND, binding.id, holder, binding.member, actor,
                                      expires_at=self_confirm_expiry(binding))
        HANDLER.resent(inv, inv, actor)
        db.session.commit()
        return inv, raw
    if latest.expires_at <= clock.now() and binding.status == BindingStatus.PENDING_CONFIRM:
        raise InvitationGone("邀请已过期，绑定未生效；如需绑定请重新添加",
                            code=InvitationStatus.EXPIRED)
    return invitations.resend(latest, holder, actor)
