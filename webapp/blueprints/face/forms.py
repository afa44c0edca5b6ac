"""The face-check form: the attempt's nonce, and either the liveness frames (posted by the
camera script) or one photo (the fallback, where the policy allows it)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import HiddenField

from webapp.face.rules import FaceRules
from webapp.face.verifier import Frame


class FaceForm(FlaskForm):
    """Posted by the camera script (frames) or by the photo fallback without script."""

    nonce = HiddenField()
    image = FileField("拍照或选择照片")


def posted_frames(files: ImmutableMultiDict, form: ImmutableMultiDict,
                  rules: FaceRules) -> list[Frame]:
    """The frames of a post: files ``frame`` with ``frame_action`` and ``frame_ms`` fields in
    the same order. Reads at most one frame more than the policy allows, each at most one byte
    more than its limit (so the checks can refuse them without holding more)."""
    uploads = files.getlist("frame")[: rules.max_frames + 1]
    actions = form.getlist("frame_action")
    times = form.getlist("frame_ms")
    frames = []
    for index, upload in enumerate(uploads):
        action = actions[index][:20] if index < len(actions) else ""
        raw = times[index] if index < len(times) else ""
        at_ms = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else -1
        frames.append(Frame(data=upload.read(rules.frame_max_bytes + 1), action=action,
                            at_ms=at_ms))
    return frames


def posted_photo(files: ImmutableMultiDict, rules: FaceRules) -> bytes | None:
    """The photo of a fallback post (None when no file, or an empty one, was posted)."""
    upload = files.get("image")
    data = upload.read(rules.photo_max_bytes + 1) if upload is not None else b""
    return data or None
