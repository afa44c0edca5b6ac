"""The face verifier interface and the simulator that stands in for a real provider.

A verifier gets either the liveness frames captured for the asked actions or (where the
policy allows it) one photo, decides, and returns a ``VerifierResult``; it never keeps an
image. ``app.config["FACE_VERIFIER"]`` names a replacement.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from flask import current_app, has_app_context
from PIL import Image, ImageChops, ImageStat, UnidentifiedImageError

from webapp.face import notices as msg
from webapp.face.rules import FaceRules
from webapp.models import InsuredPerson


@dataclass(frozen=True)
class Frame:
    """One camera frame of a liveness attempt: the image bytes, the action it was captured
    for, and its time in milliseconds since the capture began (as the page says)."""

    data: bytes
    action: str
    at_ms: int


@dataclass(frozen=True)
class VerifierResult:
    """What a verifier concluded about one submission."""

    passed: bool
    sha256: str
    code: str = "ok"  # ok | no_image | not_image | too_small | too_large | blank | same | mismatch…
    message: str = ""


@runtime_checkable
class FaceVerifier(Protocol):
    """Decides whether a submission shows the person, alive; a real provider implements this."""

    def verify_live(self, person: InsuredPerson, actions: Sequence[str],
                    frames: Sequence[Frame], rules: FaceRules) -> VerifierResult:
        """Check frames captured for the actions (in order) against the person."""
        ...

    def verify_photo(self, person: InsuredPerson, image_bytes: bytes,
                     rules: FaceRules) -> VerifierResult:
        """Check one photo against the person (only called where the policy allows a photo)."""
        ...


def sha256(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sequence_sha256(frames: Sequence[Frame]) -> str:
    """One digest for a whole sequence: SHA-256 over each frame's digest, in order."""
    return sha256("".join(sha256(f.data) for f in frames).encode())


class SimulatedVerifier:
    """Stand-in verifier. A frame or photo must be a real JPEG/PNG/WebP of sensible size that
    is not blank; the frames of a sequence must differ from each other (no frame repeated);
    then everyone passes except registry people flagged ``face_check_fails``."""

    formats = frozenset({"JPEG", "PNG", "WEBP"})
    # Sides of the grey copies the checks look at: blankness and frame-to-frame change.
    stat_side = 64
    compare_side = 128

    def verify_photo(self, person: InsuredPerson, image_bytes: bytes,
                     rules: FaceRules) -> VerifierResult:
        """One photo: decodable, sized, not blank; then the person's flag."""
        data = image_bytes or b""
        digest = sha256(data)
        if not data:
            return _fail(digest, "no_image", msg.MSG_NO_IMAGE)
        opened = self._open(data, rules, rules.photo_max_bytes, rules.max_side, photo=True)
        if isinstance(opened, VerifierResult):
            return _fail(digest, opened.code, opened.message)
        return self._person(person, digest)

    def verify_live(self, person: InsuredPerson, actions: Sequence[str],
                    frames: Sequence[Frame], rules: FaceRules) -> VerifierResult:
        """Every frame decodable, sized and not blank; no two frames the same picture."""
        digest = sequence_sha256(frames)
        copies: list[Image.Image] = []
        for frame in frames:
            opened = self._open(frame.data, rules, rules.frame_max_bytes, rules.frame_max_side,
                                photo=False)
            if isinstance(opened, VerifierResult):
                return _fail(digest, opened.code, opened.message)
            copies.append(opened)
        if len({sha256(f.data) for f in frames}) < len(frames):
            return _fail(digest, "same", msg.MSG_SAME_FRAMES)
        for one, other in itertools.combinations(copies, 2):
            if self.changed_pixels(one, other, rules.frame_pixel_delta) < (
                    rules.frame_min_changed_pixels):
                return _fail(digest, "same", msg.MSG_SAME_FRAMES)
        return self._person(person, digest)

    @staticmethod
    def changed_pixels(one: Image.Image, other: Image.Image, delta: int) -> int:
        """How many pixels of two grey copies differ by more than ``delta`` levels."""
        histogram = ImageChops.difference(one, other).histogram()
        return sum(histogram[delta + 1:])

    def _open(self, data: bytes, rules: FaceRules, max_bytes: int, max_side: int,
              photo: bool) -> Image.Image | VerifierResult:
        """The grey comparison copy of an image, or the failure (photo or frame wording)."""
        too_large = msg.MSG_TOO_LARGE if photo else msg.MSG_FRAME_TOO_LARGE
        not_image = msg.MSG_NOT_IMAGE if photo else msg.MSG_FRAME_NOT_IMAGE
        if len(data) > max_bytes:
            return _fail("", "too_large", too_large)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in self.formats:
                    return _fail("", "not_image", not_image)
                width, height = image.size
                if width < rules.min_side or height < rules.min_side:
                    return _fail("", "too_small",
                                 msg.MSG_TOO_SMALL if photo else msg.MSG_FRAME_TOO_SMALL)
                if width > max_side or height > max_side:
                    return _fail("", "too_large", too_large)
                image.load()
                grey = image.convert("L")
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
                ValueError):
            return _fail("", "not_image", not_image)
        small = grey.copy()
        small.thumbnail((self.stat_side, self.stat_side))
        if ImageStat.Stat(small).stddev[0] < rules.min_stddev:
            return _fail("", "blank", msg.MSG_UNCLEAR if photo else msg.MSG_FRAME_BLANK)
        return grey.resize((self.compare_side, self.compare_side), Image.Resampling.BILINEAR)

    @staticmethod
    def _person(person: InsuredPerson, digest: str) -> VerifierResult:
        if person.face_check_fails:
            return _fail(digest, "mismatch", msg.MSG_FAILED)
        return VerifierResult(passed=True, sha256=digest)


def _fail(digest: str, code: str, message: str) -> VerifierResult:
    return VerifierResult(passed=False, sha256=digest, code=code, message=message)


DEFAULT_VERIFIER: FaceVerifier = SimulatedVerifier()


def get_verifier() -> FaceVerifier:
    """The verifier in use: ``app.config["FACE_VERIFIER"]`` (an object, a class, or a
    ``"module:Class"`` path) or the simulator."""
    configured: Any = current_app.config.get("FACE_VERIFIER") if has_app_context() else None
    if configured is None:
        return DEFAULT_VERIFIER
    if isinstance(configured, str):
        module_name, _, attr = configured.partition(":")
        configured = getattr(importlib.import_module(module_name), attr)
    if isinstance(configured, type):
        configured = configured()
    return configured
