"""The one way a binding changes state: look the transition up, lock, apply, audit, notify.

Every 亲情账户 command (answering, ending, expiring, turning 16) calls ``apply`` with an event
of ``webapp.kinship.states.TRANSITIONS``; the table says the target state, who may and which
notices go out. ``apply`` joins the caller's transaction (the command commits).

Locking: invitation rows first (revoked when the binding closes), then the binding itself,
whose version counter turns a concurrent change into a Conflict (``MSG_CHANGED``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, NotFound
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.invitations.models import Invitation
from webapp.kinship import notices
from webapp.kinship.models import KinshipBinding
from webapp.kinship.states import OPEN, TRANSITIONS, BindingStatus
from webapp.policy import KinshipRules, policy_for
from webapp.states import Transition

KIND = "kinship"
FACE_PURPOSE = "kinship_accept"
MSG_CHANGED = "绑定状态已变化，请刷新页面后重试"
MSG_TARGET_GONE = "该绑定已结束，邀请已失效"
MSG_NOT_FOUND = "该绑定不存在或您无权查看"

# The audit action of each event.
AUDIT_ACTION = {
    "accept": "kinship.accepted",
    "self_confirm": "kinship.accepted",
    "decline": "kinship.declined",
    "refuse_self_confirm": "kinship.declined",
    "withdraw": "kinship.cancelled",
    "refuse_review": "kinship.cancelled",
    "end": "kinship.ended",
    "lapse": "kinship.ended",
    "expire": "kinship.expired",
    "ask_self_confirm": "kinship.self_confirm_requested",
}


def rules_of(binding: KinshipBinding) -> KinshipRules:
    """The kinship policy that governs the binding (its region at creation)."""
    return policy_for(binding.region_code).kinship


def save(binding: KinshipBinding) -> None:
    """Flush the binding; a concurrent change (version mismatch) becomes a Conflict."""
    try:
        db.session.flush()
    except StaleDataError as err:
        db.session.rollback()
        raise Conflict(MSG_CHANGED, code="changed") from err


def revoke_open(binding: KinshipBinding, actor: Actor, reason: str) -> None:
    """Revoke every invitation of the binding that could still be answered."""
    for inv in invitations.open_for(KIND, binding.id):
        invitations.revoke(inv, None, actor, reason=reason)


def apply(binding: KinshipBinding, event: str, role: str, actor: Actor, *,
          changes: dict[str, Any] | None = None, detail: dict[str, Any] | None = None,
          person: Any = None, invitation: Invitation | None = None,
          words: dict[str, object] | None = None, reason: str = "") -> Transition:
    """Apply one event of the transition table to the binding (no commit).

    ``changes`` are further column values of this event (e.g. ``bound_at``); a binding that
    leaves the open states is closed (ended_at, ended_by = role, no self-confirm due) after its
    open invitations are revoked. ``person`` is the audit row's subject (the member by
    default); ``words`` fill the notices' templates; ``reason`` is the invitations' revocation
    reason (``binding_<state>`` by default).
    """
    row = TRANSITIONS.step(binding.status, event, role)
    if row.target not in OPEN:
        revoke_open(binding, actor, reason=reason or f"binding_{row.target.value}")
        binding.ended_at, binding.ended_by, binding.self_confirm_due = clock.now(), role, None
    binding.status = BindingStatus(row.target)
    for column, value in (changes or {}).items():
        setattr(binding, column, value)
    save(binding)
    audit.record(AUDIT_ACTION[event], actor, target=binding,
                 person=person if person is not None else binding.member, detail=detail)
    for key in row.notify:
        notices.send(binding, key, role, invitation, **(words or {}))
    return row


# --- what a binding waits for -------------------------------------------------------------

def binding_of(inv: Invitation) -> KinshipBinding:
    """The binding an invitation confirms."""
    binding = db.session.get(KinshipBinding, inv.target_id)
    if binding is None:
        raise NotFound(invitations.MSG_UNKNOWN, code="unknown")
    return binding


def awaits_self_confirm(binding: KinshipBinding) -> bool:
    """已绑定, and a relative who turned 16 was asked to confirm it."""
    return binding.status == BindingStatus.ACTIVE and binding.self_confirm_due is not None


def awaits_member(binding: KinshipBinding) -> bool:
    """Whether the binding waits for the relative's own confirmation."""
    return binding.status == BindingStatus.PENDING_CONFIRM or awaits_self_confirm(binding)


def self_confirm_expiry(binding: KinshipBinding) -> datetime | None:
    """A self-confirmation invitation stays valid to the end of the due day (China time);
    None for an ordinary invitation (the policy's valid_hours)."""
    if awaits_self_confirm(binding) and binding.self_confirm_due is not None:
        return clock.china_midnight_utc(binding.self_confirm_due + timedelta(days=1))
    return None
