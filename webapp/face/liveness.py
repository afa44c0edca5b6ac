"""The shape of a liveness attempt, checked before any verifier sees it: the actions asked
(drawn at random per attempt) and whether the posted frames follow them — enough frames for
each action, in the asked order, with increasing times over a plausible span."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from webapp.face import notices as msg
from webapp.face.rules import ACTIONS, FaceRules
from webapp.face.verifier import Frame

SEPARATOR = ","


def draw_actions(rules: FaceRules) -> tuple[str, ...]:
    """A fresh random sequence of distinct actions for one attempt."""
    return tuple(secrets.SystemRandom().sample(list(rules.actions), rules.actions_per_check))


def stored(actions: Sequence[str]) -> str:
    """The actions as kept on the attempt row ('blink,turn_left')."""
    return SEPARATOR.join(actions)


def parse(value: str | None) -> tuple[str, ...]:
    """The actions kept on an attempt row, as a tuple."""
    return tuple(a for a in (value or "").split(SEPARATOR) if a)


def steps(actions: Sequence[str]) -> list[dict[str, str]]:
    """What the page shows for each action: code, label (眨眼) and prompt (请眨眨眼)."""
    return [{"code": a, "label": ACTIONS[a][0], "prompt": ACTIONS[a][1]}
            for a in actions if a in ACTIONS]


def problem(actions: Sequence[str], frames: Sequence[Frame],
            rules: FaceRules) -> tuple[str, str] | None:
    """Why the frames do not follow the asked actions ((code, message)), or None."""
    if len(frames) < rules.min_frames:
        return "few_frames", msg.MSG_FEW_FRAMES
    if len(frames) > rules.max_frames:
        return "many_frames", msg.MSG_MANY_FRAMES
    times = [f.at_ms for f in frames]
    if any(t < 0 for t in times) or any(b <= a for a, b in zip(times, times[1:], strict=False)):
        return "bad_times", msg.MSG_BAD_TIMES
    span = times[-1] - times[0]
    if span < rules.min_span_ms:
        return "too_fast", msg.MSG_TOO_FAST
    if span > rules.max_span_ms:
        return "too_slow", msg.MSG_TOO_SLOW
    # Frames come action by action, in the asked order, each action with enough of them.
    order = [f.action for f in frames]
    expected = [a for a in actions for _ in range(order.count(a))]
    if order != expected or any(order.count(a) < rules.frames_per_action for a in actions):
        return "wrong_actions", msg.MSG_WRONG_ACTIONS
    return None
