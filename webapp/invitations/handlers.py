"""The dispatcher of invitation flows: each kind of invitation registers one handler.

``Invitation.kind`` names the flow and ``target_id`` the row the invitation confirms. Each flow
registers one handler object for its kind, at import time of its service module::

    from webapp.invitations import services as invitations

    class AidInvitations(invitations.InvitationHandler):
        kind = "aid"
        face_purpose = "aid_accept"          # the face check the invitee passes to accept

        def offer(self, inv): ...            # what the link page says (an ``Offer``)
        def check_open(self, inv): ...       # raise DomainError unless the target still waits
        def accepted(self, inv, person, actor): ...   # state change + messages + audit
        def declined(self, inv, person, actor): ...
        # optional: resent(old, new, actor), expires_at(inv), done_url(inv, outcome),
        #           expire_due(now) (the housekeeping sweep)

    invitations.register_handler(AidInvitations())

The module must be imported when the app starts (its blueprint imports it). The kinship
handler lives in ``webapp.kinship.lifecycle``. The generic pages of blueprint
``invite`` (``/i/<token>``) then show, accept (after the face check of ``face_purpose``) and
decline invitations of every kind; handlers never commit — ``accept``/``decline``/``resend``
of ``webapp.invitations.services`` commit once, after the handler ran, so each answer is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from webapp.audit.services import Actor
from webapp.domain import DomainError, NotFound
from webapp.invitations import notices
from webapp.invitations.models import Invitation
from webapp.models import InsuredPerson


class InvitationGone(DomainError):
    """The invitation existed but can no longer be answered (expired, used, revoked): 410."""

    status = 410


# --- the dispatcher -----------------------------------------------------------------------

@dataclass(frozen=True)
class Offer:
    """What the invitation page says, in Chinese, from the invitee's point of view."""

    title: str  # "亲情账户绑定邀请"
    inviter: str  # masked name of the inviter, e.g. "张*明"
    relation: str  # e.g. "您是张*明的父母"
    meaning: tuple[str, ...] = field(default_factory=tuple)  # what accepting means, one per line
    accept_label: str = "同意并进行人脸识别"
    decline_label: str = "拒绝"
    invite_line: str = "邀请您成为亲情账户家庭成员"  # follows the inviter's name on the page
    accepted_line: str = "绑定已生效。"  # shown after accepting
    accepted_hint: str = "如需解除，可随时在“家庭 › 绑定我的人”中操作。"


class InvitationHandler:
    """Base class of a flow's invitation handler; override what the flow needs.

    Handlers change state, send messages and add audit rows but never commit.
    """

    kind: str = ""
    face_purpose: str = "invitation_accept"

    def offer(self, inv: Invitation) -> Offer:  # pragma: no cover - every flow overrides
        """The words of the invitation page."""
        raise NotImplementedError

    def check_open(self, inv: Invitation) -> None:
        """Raise a DomainError unless the invitation's target still waits for an answer."""

    def accepted(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        """The invitee accepted (the invitation is already claimed)."""
        raise NotImplementedError

    def declined(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        """The invitee declined (the invitation is already claimed)."""
        raise NotImplementedError

    def resent(self, old: Invitation, new: Invitation, actor: Actor) -> None:
        """A fresh invitation replaced ``old`` (e.g. tell the invitee)."""

    def expires_at(self, inv: Invitation) -> datetime | None:
        """Expiry of a resent invitation (None: the policy's valid_hours from now)."""
        return None

    def done_url(self, inv: Invitation, outcome: str) -> str:
        """Where the invitee lands after answering ('' for the home page)."""
        return ""

    def expire_due(self, now: datetime) -> int:
        """Close the targets whose invitations expired unanswered (the sweep); how many."""
        return 0


# Filled when the handler modules are imported (create_app imports them all).
HANDLERS: dict[str, InvitationHandler] = {}


def register_handler(handler: InvitationHandler) -> InvitationHandler:
    """Register the handler of ``handler.kind`` (replacing an earlier one)."""
    if not handler.kind:
        raise ValueError("an invitation handler needs a kind")
    HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> InvitationHandler:
    """The registered handler of a kind (an unknown kind is an invalid link)."""
    handler = HANDLERS.get(kind)
    if handler is None:
        raise NotFound(notices.message("unknown"), code="unknown")
    return handler
