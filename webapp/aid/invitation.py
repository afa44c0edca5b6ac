"""The ``aid`` invitation handler: a relative of the self-confirm age or older answers the
owner's invitation on their own phone, after their own face check (purpose ``aid_accept``).

``webapp.invitations.services`` calls these hooks inside its own transaction (it commits);
accepting and declining lock the group first, like every other membership change.
"""

from __future__ import annotations

from datetime import datetime

from webapp import clock
from webapp.aid.notices import joined_link, refuse, tell
from webapp.aid.rules import ACCEPT_PURPOSE, KIND, check_owner, check_person, rules_for, window_text
from webapp.aid.states import MEMBER, MEMBER_TRANSITIONS
from webapp.aid.steps import expire_invitations, lock_member, step
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.invitations.services import InvitationGone, InvitationHandler, Offer
from webapp.masking import mask_name
from webapp.models import AidMember, InsuredPerson, Invitation
from webapp.policy import relation_label


def member_of(inv: Invitation) -> AidMember:
    """The membership an invitation confirms."""
    member = db.session.get(AidMember, inv.target_id)
    if member is None:
        raise NotFound(invitations.MSG_UNKNOWN, code="unknown")
    return member


def _answerable(member: AidMember, event: str) -> None:
    """The membership still waits for this answer (else the invitation is gone)."""
    if not MEMBER_TRANSITIONS.allowed(member.status, event, MEMBER):
        raise refuse("target_gone", error=InvitationGone)


class AidInvitations(InvitationHandler):
    """Invitations a relative of the self-confirm age or older accepts to join a group."""

    kind = KIND
    face_purpose = ACCEPT_PURPOSE

    def offer(self, inv: Invitation) -> Offer:
        """What the invitation page tells the relative joining means."""
        member = member_of(inv)
        owner = mask_name(member.group.owner.name)
        limits = window_text(member)
        meaning = [
            f"{owner}邀请您加入其职工医保个人账户家庭共济。",
            f"加入后，您使用本人医保码就医购药时，本人个人账户不足的部分可由{owner}的个人账户支付，"
            "仍不足的部分由您本人支付。",
        ]
        if limits:
            meaning.append(f"{owner}为您设置了{limits}，超出部分由您本人支付。")
        meaning += [f"您的每一笔共济支付，{owner}都会收到通知并可查看明细。",
                    "您可以随时在“家庭共济 › 被绑定列表”中退出。"]
        return Offer(title="家庭共济邀请", inviter=owner,
                     relation=f"您是{owner}的{relation_label(member.relation)}",
                     meaning=tuple(meaning),
                     invite_line="邀请您加入家庭共济",
                     accepted_line="您已加入家庭共济，可使用其个人账户余额支付医药费用。",
                     accepted_hint="如需退出，可随时在“家庭共济 › 被绑定列表”中操作。")

    def check_open(self, inv: Invitation) -> None:
        """The membership still waits for an answer."""
        _answerable(member_of(inv), "accept")

    def accepted(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        """待确认 → 已生效, if the owner may still share and the relative may still join."""
        group, member = lock_member(member_of(inv), MEMBER)
        _answerable(member, "accept")
        owner = group.owner
        try:
            check_owner(owner)
        except DomainError:
            raise refuse("owner_gone", error=Conflict, as_code="target_gone") from None
        check_person(owner, person, rules_for(owner))
        step(member, "accept", MEMBER, actor, owner, detail={"invitation": inv.public_id})

    def declined(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        """待确认 → 已拒绝."""
        group, member = lock_member(member_of(inv), MEMBER)
        _answerable(member, "decline")
        step(member, "decline", MEMBER, actor, group.owner,
             detail={"invitation": inv.public_id})

    def resent(self, old: Invitation, new: Invitation, actor: Actor) -> None:
        """The relative learns the new link's deadline (the old link stopped working)."""
        member = member_of(new)
        tell("invitation_resent", member.group.owner, member, invitation=new,
             until=clock.china_time(new.expires_at))

    def expire_due(self, now: datetime) -> int:
        """The housekeeping sweep: 待确认 memberships whose invitation lapsed become 已过期."""
        return expire_invitations(now)

    def done_url(self, inv: Invitation, outcome: str) -> str:
        """Back to 被绑定列表 after answering."""
        return joined_link()


HANDLER = invitations.register_handler(AidInvitations())
