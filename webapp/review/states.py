"""Material review (材料审核) as types: the reviewer's decisions with their label and pill, and
how a binding under review is shown to the reviewer and to the holder.

The binding states themselves are ``webapp.kinship.states.BindingStatus``; a decision is an
event of its transition table (待审核 —approve→ 已绑定, 待审核 —reject→ 未通过, 未通过
—resubmit→ 待审核), looked up with ``step``.
"""

from __future__ import annotations

from typing import Any

from webapp.kinship.states import HOLDER, REVIEWER, TRANSITIONS, BindingStatus, Shown
from webapp.states import State, Transition


class Decision(State):
    """A reviewer's decision (the event name) with the outcome's label and pill."""

    APPROVE = "approve", "已通过", "ok"
    REJECT = "reject", "未通过", "bad"


RESUBMIT = "resubmit"
# Bindings that are (or were) under review, as the queries select them.
UNDER_REVIEW = frozenset({BindingStatus.PENDING_REVIEW, BindingStatus.REJECTED})
# What a decided binding became, by state (for the pill of a decision).
_OUTCOME = {BindingStatus.ACTIVE: Decision.APPROVE, BindingStatus.REJECTED: Decision.REJECT}


def step(status: str, event: str) -> Transition:
    """The transition of a review event (approve/reject by a reviewer, resubmit by the holder);
    Conflict when the binding is not in the state the event starts from."""
    return TRANSITIONS.step(status, event, HOLDER if event == RESUBMIT else REVIEWER)


def reviewer_pill(binding: Any, decided: bool = False) -> State | Shown:
    """The pill a reviewer sees: 待审核 / 未通过 / 已通过, else the binding's own state
    ('已通过 · 已解除' in the 已处理 list, where every row was decided)."""
    status = BindingStatus(binding.status)
    if status == BindingStatus.PENDING_REVIEW:
        return status
    if status in _OUTCOME:
        return _OUTCOME[status]
    return Shown(f"已通过 · {status.label}" if decided else status.label, "off")


def holder_pill(binding: Any) -> State | Shown:
    """The pill on the holder's application page: 待审核 / 未通过, else the binding's state
    (已绑定 in green, anything else grey)."""
    status = BindingStatus(binding.status)
    if status == BindingStatus.PENDING_REVIEW:
        return status
    if status == BindingStatus.REJECTED:
        return Decision.REJECT
    return Shown(status.label, "ok" if status == BindingStatus.ACTIVE else "off")
