"""Invitation states: read from the row's timestamps (no status column), and the transitions.

An invitation is 待处理 until it is answered (已处理, with an outcome 已同意/已拒绝), revoked by
the inviter or the system (已撤回, also when a fresh link replaces it), or its time runs out
(已过期 — a read-time condition: nothing is written when it expires).
"""

from __future__ import annotations

from webapp.states import State, Transition, Transitions


class InvitationStatus(State):
    """The state of an Invitation, derived from used_at / revoked_at / expires_at."""

    OPEN = "open", "待处理", "wait"
    USED = "used", "已处理", "off"
    REVOKED = "revoked", "已撤回", "off"
    EXPIRED = "expired", "已过期", "off"


class InvitationOutcome(State):
    """The answer stored in ``invitation.outcome`` (set together with used_at)."""

    ACCEPTED = "accepted", "已同意", "ok"
    DECLINED = "declined", "已拒绝", "bad"


# Who acts (Transition.who).
INVITEE, INVITER, SYSTEM = "invitee", "inviter", "system"

V = InvitationStatus
TRANSITIONS = Transitions(InvitationStatus, [
    Transition(V.OPEN, "accept", V.USED, who={INVITEE}, notify=("accepted",)),
    Transition(V.OPEN, "decline", V.USED, who={INVITEE}, notify=("declined",)),
    Transition(V.OPEN, "revoke", V.REVOKED, who={INVITER, SYSTEM}),
    Transition(V.OPEN, "resend", V.REVOKED, who={INVITER}, notify=("resent",)),
    Transition(V.OPEN, "expire", V.EXPIRED, who={SYSTEM}),
    # A lapsed link may still be revoked or replaced (the record says so).
    Transition(V.EXPIRED, "revoke", V.REVOKED, who={INVITER, SYSTEM}),
    Transition(V.EXPIRED, "resend", V.REVOKED, who={INVITER}, notify=("resent",)),
])

# The event by which an answer is given.
EVENT_OF = {InvitationOutcome.ACCEPTED: "accept", InvitationOutcome.DECLINED: "decline"}
