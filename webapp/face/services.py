"""Simulated face check (人脸识别): attempts, verification through a replaceable verifier,
and one-time passes per person and purpose.

The flow: ``begin`` opens a pending attempt with a random nonce and a random sequence of
actions (policy ``face.actions_per_check`` of ``face.actions``); the camera page captures
frames for each action and posts them with the nonce to ``submit_live``, which checks the
sequence's shape (``liveness.problem``) and asks the configured verifier. Where the policy
allows it for the purpose (``face.photo_fallback``; never a binding, 共济 or invitation) one
photo may be posted to ``submit_photo`` instead. A pass is then spent exactly once by the
flow that needed it (``consume``), within ``face.pass_valid_seconds``. An attempt is decided
once, expires after ``face.attempt_valid_seconds`` and belongs to its person. Only a SHA-256
of what was submitted is kept, never an image.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db, rows_changed
from webapp.face import liveness
from webapp.face import notices as msg
from webapp.face.notices import (  # noqa: F401 - the messages, re-exported for callers
    MSG_BAD_NONCE,
    MSG_EXPIRED,
    MSG_FAILED,
    MSG_NO_IMAGE,
    MSG_NOT_IMAGE,
    MSG_NOT_PENDING,
    MSG_REQUIRED,
    MSG_TOO_LARGE,
    MSG_TOO_SMALL,
    MSG_UNCLEAR,
    purpose_text,
)
from webapp.face.rules import FaceRules
from webapp.face.states import FaceResult, outcome
from webapp.face.verifier import (  # noqa: F401 - the verifier interface, re-exported
    DEFAULT_VERIFIER,
    FaceVerifier,
    Frame,
    SimulatedVerifier,
    VerifierResult,
    get_verifier,
    sequence_sha256,
    sha256,
)
from webapp.models import FaceCheck, InsuredPerson
from webapp.policy import policy_for

LIVE = "live"
PHOTO = "photo"


def rules_for(person: InsuredPerson) -> FaceRules:
    """The face rules of the person's region."""
    return policy_for(person.region_code).face


def pass_valid_seconds(person: InsuredPerson) -> int:
    """How long a pass stays usable, from the person's policy."""
    return rules_for(person).pass_valid_seconds


def attempt_valid_seconds(person: InsuredPerson) -> int:
    """How long an attempt may stay open, from the person's policy."""
    return rules_for(person).attempt_valid_seconds


def photo_allowed(check: FaceCheck, person: InsuredPerson | None = None) -> bool:
    """Whether the policy lets a photo replace the camera for this attempt's purpose."""
    return rules_for(person or person_of(check)).photo_allowed(check.purpose)


def actions_of(check: FaceCheck) -> tuple[str, ...]:
    """The actions the attempt asks for, in order."""
    return liveness.parse(check.actions)


def _local_path(url: str | None) -> str:
    """A same-site path for the redirect after a pass ('/' for anything else)."""
    from webapp.web import safe_next

    return safe_next(url, "/")[:300]


def begin(person: InsuredPerson, purpose: str, next_url: str) -> FaceCheck:
    """Open a pending attempt with a fresh nonce and random actions (committed)."""
    check = FaceCheck(
        person_id=person.id,
        purpose=purpose[:40],
        nonce=secrets.token_urlsafe(24),
        next_url=_local_path(next_url),
        actions=liveness.stored(liveness.draw_actions(rules_for(person))),
        result=FaceResult.PENDING,
    )
    db.session.add(check)
    db.session.commit()
    return check


def get_check(public_id: str) -> FaceCheck | None:
    """The attempt with this public id, if any."""
    return db.session.scalar(select(FaceCheck).filter_by(public_id=public_id))


def person_of(check: FaceCheck) -> InsuredPerson:
    """The registry person the attempt is for."""
    person = db.session.get(InsuredPerson, check.person_id)
    if person is None:  # pragma: no cover - person_id is a foreign key
        raise NotFound(msg.MSG_NOT_FOUND)
    return person


def belongs_to(check: FaceCheck, actor: Actor) -> bool:
    """Whether the actor may use the attempt: anyone before login (registration), else only
    the account of the attempt's person."""
    user = actor.user
    return user is None or user.person_id == check.person_id


def is_expired(check: FaceCheck, person: InsuredPerson | None = None) -> bool:
    """Whether a pending attempt is older than the policy's attempt validity."""
    person = person or person_of(check)
    return clock.now() - check.created_at > timedelta(seconds=attempt_valid_seconds(person))


def submit_live(check: FaceCheck, nonce: str, frames: Sequence[Frame],
                actor: Actor) -> FaceCheck:
    """Verify the camera frames posted for a pending attempt and record the result.

    Raises a DomainError with the Chinese message when the attempt cannot be used (wrong
    nonce, someone else's, already decided, timed out) or the check fails; a failure is
    recorded first. After a DomainError the session is rolled back and ``check`` shows its
    stored state (a double submit may find it already passed).
    """
    def evaluate(person: InsuredPerson, rules: FaceRules) -> VerifierResult:
        actions = actions_of(check)
        wrong = liveness.problem(actions, frames, rules)
        if wrong is not None:
            return VerifierResult(passed=False, sha256=sequence_sha256(frames), code=wrong[0],
                                  message=wrong[1])
        return get_verifier().verify_live(person, actions, frames, rules)

    return _submit(check, nonce, actor, LIVE, evaluate)


def submit_photo(check: FaceCheck, nonce: str, image_bytes: bytes, actor: Actor) -> FaceCheck:
    """Verify one photo for a pending attempt, only where the policy allows a photo for its
    purpose (refused and recorded as a failure otherwise); as ``submit_live`` otherwise."""
    def evaluate(person: InsuredPerson, rules: FaceRules) -> VerifierResult:
        if not rules.photo_allowed(check.purpose):
            return VerifierResult(passed=False, sha256=sha256(image_bytes or b""),
                                  code="photo_refused", message=msg.MSG_PHOTO_REFUSED)
        return get_verifier().verify_photo(person, image_bytes, rules)

    return _submit(check, nonce, actor, PHOTO, evaluate)


Evaluate = Callable[[InsuredPerson, FaceRules], VerifierResult]


def _submit(check: FaceCheck, nonce: str, actor: Actor, method: str,
            evaluate: Evaluate) -> FaceCheck:
    try:
        return _decide(check, nonce, actor, method, evaluate)
    except DomainError:
        db.session.rollback()
        db.session.refresh(check)
        raise


def _decide(check: FaceCheck, nonce: str, actor: Actor, method: str,
            evaluate: Evaluate) -> FaceCheck:
    """Nonce, owner, state, age, the evaluation, one conditional UPDATE, audit."""
    person = person_of(check)
    if not hmac.compare_digest((nonce or "").encode(), check.nonce.encode()):
        raise DomainError(msg.MSG_BAD_NONCE, code="bad_nonce")
    if not belongs_to(check, actor):
        raise NotFound(msg.MSG_NOT_YOURS, code="not_yours")
    if check.result != FaceResult.PENDING:
        raise Conflict(msg.MSG_NOT_PENDING, code="not_pending")
    if is_expired(check, person):
        raise DomainError(msg.MSG_EXPIRED, code="expired")
    result = evaluate(person, rules_for(person))
    # A conditional update decides the attempt exactly once, even on a double submit.
    decided = rows_changed(
        update(FaceCheck)
        .where(FaceCheck.id == check.id, FaceCheck.result == FaceResult.PENDING)
        .values(
            result=outcome(result.passed),
            image_sha256=result.sha256,
            method=method,
            checked_at=clock.now(),
        )
    )
    if decided != 1:
        db.session.rollback()
        raise Conflict(msg.MSG_NOT_PENDING, code="not_pending")
    audit.record(
        "face_check.pass" if result.passed else "face_check.fail",
        actor,
        target=check,
        person=person,
        detail={"purpose": check.purpose, "method": method, "code": result.code},
    )
    db.session.commit()
    db.session.refresh(check)
    if not result.passed:
        raise DomainError(result.message or msg.MSG_FAILED, field="image", code=result.code)
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
    raise DomainError(msg.MSG_REQUIRED, code="face_required")
