"""家庭共济 states: a group's and a membership's states, and the transitions between them.

A membership starts 已生效 (under the self-confirm age: the owner's word is enough) or 待确认
(an invitation the relative answers). It ends 已拒绝, 已过期, 已移除 or 已退出. Only an
已开通 group's memberships change. Each row names who may take the step (``owner``,
``member`` or ``system``) and the notice sent (an event of ``webapp.aid.notices.NOTICES``).
"""

from __future__ import annotations

from webapp.states import State, Transition, Transitions

OWNER, MEMBER, SYSTEM = "owner", "member", "system"


class AidGroupStatus(State):
    """State of a 家庭共济组."""

    ACTIVE = "active", "已开通", "ok"
    CLOSED = "closed", "已关闭", "off"


class AidMemberStatus(State):
    """State of a membership (共济成员)."""

    PENDING_CONFIRM = "pending_confirm", "待确认", "wait"
    ACTIVE = "active", "已生效", "ok"
    DECLINED = "declined", "已拒绝", "bad"
    EXPIRED = "expired", "已过期", "off"
    REMOVED = "removed", "已移除", "off"
    LEFT = "left", "已退出", "off"


# States that occupy a place in the group (count towards the limits, block a duplicate).
OPEN_STATES = (AidMemberStatus.PENDING_CONFIRM, AidMemberStatus.ACTIVE)


def sql_in(states: tuple[State, ...], column: str = "status") -> str:
    """``status IN ('a', 'b')`` for a partial index over the given states."""
    return f"{column} IN ({', '.join(repr(s.value) for s in states)})"


GROUP_TRANSITIONS = Transitions(AidGroupStatus, [
    # Members are added, answer, change and end only while the group is 已开通.
    Transition(AidGroupStatus.ACTIVE, "change_members", AidGroupStatus.ACTIVE,
               who={OWNER, MEMBER, SYSTEM}),
], refused="您的家庭共济已关闭")

_S = AidMemberStatus
_P, _A = _S.PENDING_CONFIRM, _S.ACTIVE

MEMBER_TRANSITIONS = Transitions(AidMemberStatus, [
    Transition(_P, "accept", _A, who={MEMBER}, notify=("member_joined",)),
    Transition(_P, "decline", _S.DECLINED, who={MEMBER}, notify=("invitation_declined",)),
    # 拒绝 from 被绑定列表 (the same end as declining through the link).
    Transition(_P, "leave", _S.DECLINED, who={MEMBER}, notify=("invitation_declined",)),
    Transition(_P, "remove", _S.REMOVED, who={OWNER}, notify=("invitation_withdrawn",)),
    Transition(_P, "expire", _S.EXPIRED, who={SYSTEM}, notify=("invitation_expired",)),
    # The new link's notice is sent by the invitation handler's ``resent`` hook.
    Transition(_P, "resend", _P, who={OWNER}, notify=("invitation_resent",)),
    Transition(_P, "change_window", _P, who={OWNER}, notify=("window_changed",)),
    Transition(_A, "change_window", _A, who={OWNER}, notify=("window_changed",)),
    Transition(_A, "remove", _S.REMOVED, who={OWNER}, notify=("member_removed",)),
    Transition(_A, "leave", _S.LEFT, who={MEMBER}, notify=("member_left",)),
], refused="该共济关系已结束，无需再操作")

# How a membership begins (no from-state): added directly, or invited to confirm.
ADDED = {"member_added": AidMemberStatus.ACTIVE,
         "member_invited": AidMemberStatus.PENDING_CONFIRM}
