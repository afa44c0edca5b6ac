"""The face-check rules of the policy table (policy.json "face"): what the liveness check asks
for, the limits on what it accepts, and where the photo fallback is allowed.

``webapp.policy`` loads the section through ``FACE_CHECKS`` and cross-checks it with
``check_face``; services read it as ``policy_for(region).face`` (a ``FaceRules``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from webapp.policy_checks import Check, Context, at_least, codes

# The actions a liveness check may ask for: code → (label, the prompt shown while capturing).
ACTIONS: dict[str, tuple[str, str]] = {
    "blink": ("眨眼", "请眨眨眼"),
    "open_mouth": ("张嘴", "请张张嘴"),
    "turn_left": ("左转", "请缓慢向左转头"),
    "turn_right": ("右转", "请缓慢向右转头"),
}

# Purposes whose pass authorises a binding, a 共济 group or an invitation: never by photo,
# whatever a policy file says (the file is refused if it lists one).
PHOTO_NEVER = frozenset({
    "kinship_add", "kinship_accept", "kinship_edit", "invitation_accept",
    "aid_create", "aid_accept", "aid_join",
})


@dataclass(frozen=True)
class FaceRules:
    """Simulated face check: validity of a pass and of an attempt, the liveness sequence
    (actions drawn per attempt, frames per action), limits on frames and their time span,
    image limits (sides, bytes, blankness, how different two frames must be) and the purposes
    for which a photo may replace the camera."""

    pass_valid_seconds: int
    attempt_valid_seconds: int
    actions: tuple[str, ...]
    actions_per_check: int
    frames_per_action: int
    max_frames: int
    min_span_ms: int
    max_span_ms: int
    min_side: int
    frame_max_side: int
    max_side: int
    frame_max_bytes: int
    photo_max_bytes: int
    min_stddev: int
    frame_pixel_delta: int
    frame_min_changed_pixels: int
    photo_fallback: tuple[str, ...]

    @property
    def min_frames(self) -> int:
        """The fewest frames an attempt may post: every asked action with its frames."""
        return self.actions_per_check * self.frames_per_action

    def photo_allowed(self, purpose: str) -> bool:
        """Whether a photo may replace the camera for this purpose."""
        return purpose in self.photo_fallback and purpose not in PHOTO_NEVER


def _purposes(value: Any, path: str, ctx: Context) -> tuple[str, ...]:
    """A list (possibly empty) of distinct purpose codes, none of them in PHOTO_NEVER."""
    if not isinstance(value, list):
        raise ctx.fail(path, "must be a list of face-check purpose codes")
    for item in value:
        if not isinstance(item, str) or not re.fullmatch(r"[a-z][a-z_]*", item):
            raise ctx.fail(path, f"has an invalid purpose code {item!r}")
        if item in PHOTO_NEVER:
            raise ctx.fail(path, f"must not allow a photo for {item!r} (binding, 共济 or invitation)")
    if len(set(value)) != len(value):
        raise ctx.fail(path, "lists a purpose twice")
    return tuple(value)


FACE_CHECKS: dict[str, Check] = {
    "pass_valid_seconds": at_least(1),
    "attempt_valid_seconds": at_least(1),
    "actions": codes("face action", lambda ctx: ACTIONS),
    "actions_per_check": at_least(1),
    "frames_per_action": at_least(1),
    "max_frames": at_least(2),
    "min_span_ms": at_least(0),
    "max_span_ms": at_least(1),
    "min_side": at_least(1),
    "frame_max_side": at_least(1),
    "max_side": at_least(1),
    "frame_max_bytes": at_least(1),
    "photo_max_bytes": at_least(1),
    "min_stddev": at_least(0),
    "frame_pixel_delta": at_least(1),
    "frame_min_changed_pixels": at_least(1),
    "photo_fallback": _purposes,
}


def check_face(face: dict[str, Any], path: str, ctx: Context) -> None:
    """Cross-check a complete face section (numbers that must agree with each other)."""
    if face["actions_per_check"] > len(face["actions"]):
        raise ctx.fail(f"{path}.actions_per_check", "must not exceed the number of actions")
    if face["max_frames"] < face["actions_per_check"] * face["frames_per_action"]:
        raise ctx.fail(f"{path}.max_frames",
                       "must be at least actions_per_check × frames_per_action")
    if face["max_span_ms"] <= face["min_span_ms"]:
        raise ctx.fail(f"{path}.max_span_ms", "must be more than min_span_ms")
    if not face["min_side"] <= face["frame_max_side"] <= face["max_side"]:
        raise ctx.fail(f"{path}.frame_max_side", "must lie between min_side and max_side")
