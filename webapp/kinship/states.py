"""亲情账户 binding states: the stored values with their labels and pills, and the transitions.

DESIGN.md: 待确认 → 已绑定 / 已拒绝 / 已过期; 待审核 → 已绑定 / 未通过 (→ 待审核 again when the
holder resubmits); 已绑定 → 已解除. A holder withdrawing a 待确认/待审核 request ends it (已解除).
A child bound before 16 stays 已绑定 after turning 16 but is shown as 待本人确认 until they confirm.
"""

from __future__ import annotations

from typing import NamedTuple

from webapp.states import State, Transition, Transitions


class BindingStatus(State):
    """The state of a KinshipBinding (value stored in ``kinship_binding.status``)."""

    PENDING_CONFIRM = "pending_confirm", "待确认", "wait"
    PENDING_REVIEW = "pending_review", "待审核", "wait"
    ACTIVE = "active", "已绑定", "ok"
    DECLINED = "declined", "已拒绝", "bad"
    EXPIRED = "expired", "已过期", "off"
    REJECTED = "rejected", "未通过", "bad"
    ENDED = "ended", "已解除", "off"


# States that occupy a slot of the holder's member limit and block a duplicate.
OPEN = frozenset({BindingStatus.PENDING_CONFIRM, BindingStatus.PENDING_REVIEW,
                  BindingStatus.ACTIVE})


class Shown(NamedTuple):
    """A state as a page shows it when it is not a stored state (same shape for state_pill)."""

    label: str
    kind: str


# 已绑定, but a child who turned 16 has to confirm it themselves.
AWAITING_SELF = Shown("待本人确认", "wait")

# Who acts (Transition.who).
HOLDER, MEMBER, REVIEWER, SYSTEM = "holder", "member", "reviewer", "system"

S = BindingStatus
TRANSITIONS = Transitions(BindingStatus, [
    # The relative answers the invitation of a 待确认 binding.
    Transition(S.PENDING_CONFIRM, "accept", S.ACTIVE, who={MEMBER}, notify=("accept",)),
    Transition(S.PENDING_CONFIRM, "decline", S.DECLINED, who={MEMBER}, notify=("decline",)),
    Transition(S.PENDING_CONFIRM, "withdraw", S.ENDED, who={HOLDER, SYSTEM},
               notify=("withdraw",)),
    Transition(S.PENDING_CONFIRM, "expire", S.EXPIRED, who={SYSTEM}, notify=("expire",)),
    Transition(S.PENDING_CONFIRM, "resend", S.PENDING_CONFIRM, who={HOLDER},
               notify=("resend",)),
    # Material review (webapp.review).
    Transition(S.PENDING_REVIEW, "approve", S.ACTIVE, who={REVIEWER}, notify=("approve",)),
    Transition(S.PENDING_REVIEW, "reject", S.REJECTED, who={REVIEWER}, notify=("reject",)),
    Transition(S.PENDING_REVIEW, "withdraw", S.ENDED, who={HOLDER, SYSTEM},
               notify=("withdraw",)),
    Transition(S.PENDING_REVIEW, "refuse_review", S.ENDED, who={MEMBER},
               notify=("refuse_review",)),
    Transition(S.REJECTED, "resubmit", S.PENDING_REVIEW, who={HOLDER}, notify=()),
    # 已绑定: ended by either side; turning 16 asks the relative to confirm.
    Transition(S.ACTIVE, "end", S.ENDED, who={HOLDER, MEMBER, SYSTEM}, notify=("end",)),
    Transition(S.ACTIVE, "ask_self_confirm", S.ACTIVE, who={SYSTEM},
               notify=("ask_self_confirm",)),
    Transition(S.ACTIVE, "self_confirm", S.ACTIVE, who={MEMBER}, notify=("self_confirm",)),
    Transition(S.ACTIVE, "refuse_self_confirm", S.ENDED, who={MEMBER},
               notify=("refuse_self_confirm",)),
    Transition(S.ACTIVE, "lapse", S.ENDED, who={SYSTEM}, notify=("lapse",)),
    Transition(S.ACTIVE, "resend", S.ACTIVE, who={HOLDER}, notify=("resend",)),
], refused="该绑定已结束，无需再操作")
