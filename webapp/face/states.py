"""Face-check (人脸识别) results as types, and the one transition table of a challenge.

A challenge opens 待识别 (pending) and is decided exactly once: 已通过 (passed) or 未通过
(failed). A pass is then spent by the action it allowed (``consumed_at``), not a new state.
"""

from __future__ import annotations

from webapp.states import State, Transition, Transitions


class FaceResult(State):
    """The result of a FaceCheck (value stored in ``face_check.result``)."""

    PENDING = "pending", "待识别", "wait"
    PASSED = "passed", "已通过", "ok"
    FAILED = "failed", "未通过", "bad"


PERSON = "person"

TRANSITIONS = Transitions(FaceResult, [
    Transition(FaceResult.PENDING, "pass", FaceResult.PASSED, who={PERSON}),
    Transition(FaceResult.PENDING, "fail", FaceResult.FAILED, who={PERSON}),
], refused="该人脸识别已完成，请重新开始")


def outcome(passed: bool) -> FaceResult:
    """The result a verification leads to (the 'pass' / 'fail' row of the table)."""
    return FaceResult(TRANSITIONS.step(FaceResult.PENDING, "pass" if passed else "fail").target)
