"""Simulated face check (人脸识别): challenges, verification through a replaceable verifier,
and one-time passes per person and purpose.

The flow: ``begin`` creates a pending challenge with a random nonce; the camera page posts one
frame with that nonce to ``submit``, which asks the configured ``FaceVerifier``; a pass is
then spent exactly once by the flow that needed it (``consume``), within the policy's
``face.pass_valid_seconds``. Only the SHA-256 of the submitted image is kept, never the image.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from flask import current_app, has_app_context
from PIL import Image, ImageStat, UnidentifiedImageError
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db, rows_changed
from webapp.face.states import FaceResult, outcome
from webapp.models import FaceCheck, InsuredPerson
from webapp.policy import policy_for

# What each purpose is for, in the words the face page shows.
PURPOSES = {
    "register": "注册账号需要验证是本人操作",
    "login": "登录需要验证是本人操作",
    "kinship_add": "添加家庭成员需要验证是本人操作",
    "kinship_accept": "确认亲情账户绑定需要验证是本人操作",
    "invitation_accept": "接受家人邀请需要验证是本人操作",
    "aid_create": "开通家庭共济需要验证是本人操作",
    "aid_accept": "加入家庭共济需要验证是本人操作",
    "aid_join": "加入家庭共济需要验证是本人操作",
}
DEFAULT_PURPOSE_TEXT = "该操作需要验证是本人操作"

MSG_UNCLEAR = "未检测到清晰的人脸图像，请正对屏幕重试"
MSG_NOT_IMAGE = "无法识别该图片，请拍摄一张JPG、PNG或WebP格式的照片"
MSG_TOO_SMALL = "照片太小，未检测到清晰的人脸图像，请正对屏幕重试"
MSG_TOO_LARGE = "照片尺寸或文件过大，请重新拍摄"
MSG_NO_IMAGE = "请拍摄或选择一张本人正脸照片"
MSG_FAILED = "人脸识别未通过，请确认是本人操作"
MSG_EXPIRED = "本次人脸识别已超时，请重新识别"
MSG_BAD_NONCE = "人脸识别请求无效，请重新识别"
MSG_NOT_PENDING = "本次人脸识别已结束，请重新识别"
MSG_REQUIRED = "请先完成人脸识别"


def purpose_text(purpose: str) -> str:
    """The sentence telling the person why they are asked for a face check."""
    return PURPOSES.get(purpose, DEFAULT_PURPOSE_TEXT)


# --- the verifier interface ---------------------------------------------------------------

@dataclass(frozen=True)
class VerifierResult:
    """What a verifier concluded about one submitted image."""

    passed: bool
    sha256: str
    code: str = "ok"  # ok | no_image | not_image | too_small | too_large | blank | mismatch
    message: str = ""


@runtime_checkable
class FaceVerifier(Protocol):
    """Decides whether an image shows the person; a real provider would implement this."""

    max_bytes: int  # the largest photo it accepts (the page says so)

    def verify(self, person: InsuredPerson, image_bytes: bytes) -> VerifierResult:
        """Check the image against the person; never keep the image."""
        ...


class SimulatedVerifier:
    """Stand-in verifier: a real, decodable, sensibly sized, non-blank photo passes, unless the
    registry flags the person (``face_check_fails``) so that failure can be demonstrated."""

    formats = frozenset({"JPEG", "PNG", "WEBP"})
    min_side = 64
    max_side = 4096
    max_bytes = 5 * 1024 * 1024
    # Standard deviation of the grey levels of a 64×64 copy; a blank or flat frame is below.
    min_stddev = 6.0

    def verify(self, person: InsuredPerson, image_bytes: bytes) -> VerifierResult:
        """Apply the simulated rules to the image bytes."""
        data = image_bytes or b""
        digest = hashlib.sha256(data).hexdigest()

        def fail(code: str, message: str) -> VerifierResult:
            return VerifierResult(passed=False, sha256=digest, code=code, message=message)

        if not data:
            return fail("no_image", MSG_NO_IMAGE)
        if len(data) > self.max_bytes:
            return fail("too_large", MSG_TOO_LARGE)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in self.formats:
                    return fail("not_image", MSG_NOT_IMAGE)
                width, height = image.size
                if width < self.min_side or height < self.min_side:
                    return fail("too_small", MSG_TOO_SMALL)
                if width > self.max_side or height > self.max_side:
                    return fail("too_large", MSG_TOO_LARGE)
                image.load()
                grey = image.convert("L")
                grey.thumbnail((64, 64))
                stddev = ImageStat.Stat(grey).stddev[0]
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
                ValueError):
            return fail("not_image", MSG_NOT_IMAGE)
        if stddev < self.min_stddev:
            return fail("blank", MSG_UNCLEAR)
        if person.face_check_fails:
            return fail("mismatch", MSG_FAILED)
        return VerifierResult(passed=True, sha256=digest)


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


# --- challenges and passes ----------------------------------------------------------------

def pass_valid_seconds(person: InsuredPerson) -> int:
    """How long a challenge may stay open and a pass stays usable, from the person's policy."""
    return policy_for(person.region_code).face.pass_valid_seconds


def _local_path(url: str | None) -> str:
    """A same-site path for the redirect after a pass ('/' for anything else)."""
    from webapp.web import safe_next

    return safe_next(url, "/")[:300]


def begin(person: InsuredPerson, purpose: str, next_url: str) -> FaceCheck:
    """Open a pending challenge with a fresh random nonce (committed)."""
    check = FaceCheck(
        person_id=person.id,
        purpose=purpose[:40],
        nonce=secrets.token_urlsafe(24),
        next_url=_local_path(next_url),
        result=FaceResult.PENDING,
    )
    db.session.add(check)
    db.session.commit()
    return check


def get_check(public_id: str) -> FaceCheck | None:
    """The challenge with this public id, if any."""
    return db.session.scalar(select(FaceCheck).filter_by(public_id=public_id))


def person_of(check: FaceCheck) -> InsuredPerson:
    """The registry person the challenge is for."""
    person = db.session.get(InsuredPerson, check.person_id)
    if person is None:  # pragma: no cover - person_id is a foreign key
        raise NotFound("该人脸识别请求不存在或已失效，请返回重新操作")
    return person


def is_expired(check: FaceCheck, person: InsuredPerson | None = None) -> bool:
    """Whether a pending challenge is older than the face pass validity."""
    person = person or person_of(check)
    return clock.now() - check.created_at > timedelta(seconds=pass_valid_seconds(person))


def submit(check: FaceCheck, nonce: str, image_bytes: bytes, actor: Actor) -> FaceCheck:
    """Verify one submitted frame for a pending challenge and record the result.

    Raises a DomainError with the Chinese message when the challenge cannot be used (wrong
    nonce, already decided, timed out) or the check fails; a failure is recorded first. After
    a DomainError the session is rolled back and ``check`` shows its stored state (a double
    submit may find it already passed).
    """
    try:
        return _decide(check, nonce, image_bytes, actor)
    except DomainError:
        db.session.rollback()
        db.session.refresh(check)
        raise


def _decide(check: FaceCheck, nonce: str, image_bytes: bytes, actor: Actor) -> FaceCheck:
    """The steps of ``submit``: nonce, state, age, verifier, one conditional UPDATE, audit."""
    person = person_of(check)
    if not hmac.compare_digest((nonce or "").encode(), check.nonce.encode()):
        raise DomainError(MSG_BAD_NONCE, code="bad_nonce")
    if check.result != FaceResult.PENDING:
        raise Conflict(MSG_NOT_PENDING, code="not_pending")
    if is_expired(check, person):
        raise DomainError(MSG_EXPIRED, code="expired")
    result = get_verifier().verify(person, image_bytes)
    # A conditional update decides the challenge exactly once, even on a double submit.
    decided = rows_changed(
        update(FaceCheck)
        .where(FaceCheck.id == check.id, FaceCheck.result == FaceResult.PENDING)
        .values(
            result=outcome(result.passed),
            image_sha256=result.sha256,
            checked_at=clock.now(),
        )
    )
    if decided != 1:
        db.session.rollback()
        raise Conflict(MSG_NOT_PENDING, code="not_pending")
    audit.record(
        "face_check.pass" if result.passed else "face_check.fail",
        actor,
        target=check,
        person=person,
        detail={"purpose": check.purpose, "code": result.code},
    )
    db.session.commit()
    db.session.refresh(check)
    if not result.passed:
        raise DomainError(result.message or MSG_FAILED, field="image", code=result.code)
    return check


def _usable_pass_query(person: InsuredPerson, purpose: str, at: datetime):
    oldest = at - timedelta(seconds=pass_valid_seconds(person))
    return (
        select(FaceCheck)
        .where(
            FaceCheck.person_id == person.id,
            FaceCheck.purpose == purpose,
            FaceCheck.result == FaceResult.PASSED,
            FaceCheck.consumed_at.is_(None),
            FaceCheck.checked_at >= oldest,
        )
        .order_by(FaceCheck.checked_at.desc(), FaceCheck.id.desc())
    )


def has_pass(person: InsuredPerson, purpose: str) -> bool:
    """Whether the person holds an unused, unexpired pass for the purpose (nothing consumed)."""
    return db.session.scalar(_usable_pass_query(person, purpose, clock.now()).limit(1)) is not None


def consume(person: InsuredPerson, purpose: str) -> None:
    """Spend the person's pass for the purpose: good once, within the policy's validity.

    Does not commit: the caller's transaction does, together with the action the pass allowed
    (so a rolled-back action leaves the pass unspent). Raises DomainError otherwise.
    """
    at = clock.now()
    for check in db.session.scalars(_usable_pass_query(person, purpose, at).limit(3)):
        spent = rows_changed(
            update(FaceCheck)
            .where(FaceCheck.id == check.id, FaceCheck.consumed_at.is_(None))
            .values(consumed_at=at)
        )
        if spent == 1:
            set_committed_value(check, "consumed_at", at)
            return
    raise DomainError(MSG_REQUIRED, code="face_required")
