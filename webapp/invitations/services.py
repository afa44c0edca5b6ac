"""Invitation links (邀请链接): create, load, answer, revoke and resend — for any flow.

A person aged 16+ confirms being bound (亲情账户, and later 家庭共济) by opening a link that
carries a random token. Only the token's SHA-256 is stored; the raw token exists once, in the
return value of ``create``/``resend``, for the inviter to share. An invitation is for exactly
one registry person (the invitee), valid for ``policy.invitation.valid_hours`` from creation,
single use (``claim`` is a conditional UPDATE, so concurrent answers give exactly one), and
revocable by the inviter.

The flows plug in through ``webapp.invitations.handlers`` (one handler per ``Invitation.kind``).

Transactions: ``create``, ``claim`` and ``revoke`` join the caller's transaction (they flush,
never commit); ``accept``, ``decline`` and ``resend`` are whole actions and commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError, Forbidden, NotFound
from webapp.extensions import db
from webapp.face import services as face
from webapp.invitations import notices
from webapp.invitations.handlers import (
    HANDLERS,
    InvitationGone,
    InvitationHandler,
    Offer,
    handler_for,
    register_handler,
)
from webapp.invitations.models import Invitation
from webapp.invitations.states import (
    EVENT_OF,
    INVITER,
    SYSTEM,
    TRANSITIONS,
    InvitationOutcome,
    InvitationStatus,
)
from webapp.models import InsuredPerson, User
from webapp.policy import policy_for

MSG_UNKNOWN = notices.message("unknown")  # used by the flows' handlers
__all__ = ["HANDLERS", "MSG_UNKNOWN", "InvitationGone", "InvitationHandler", "Offer",
           "handler_for", "register_handler"]

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100


# --- tokens and state ---------------------------------------------------------------------

def token_hash(raw_token: str) -> str:
    """SHA-256 (hex) of a raw token: the only form stored."""
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def valid_until(inviter: InsuredPerson, at: datetime | None = None) -> datetime:
    """Expiry of an invitation created now: the inviter's policy valid_hours."""
    hours = policy_for(inviter.region_code).invitation.valid_hours
    return (at or clock.now()) + timedelta(hours=hours)


def state(inv: Invitation, at: datetime | None = None) -> InvitationStatus:
    """待处理 / 已处理 / 已撤回 / 已过期 (expiry is read from expires_at, never written)."""
    return inv.status_at(at or clock.now())


def is_open(inv: Invitation, at: datetime | None = None) -> bool:
    """Whether the invitation may still be answered."""
    return state(inv, at) == InvitationStatus.OPEN


def gone(code: str) -> InvitationGone:
    """The 410 error of a refusal code."""
    return InvitationGone(notices.message(code), code=code)


def _refuse(inv: Invitation, at: datetime | None = None, event: str = "accept") -> None:
    """Raise the error that says why the event cannot happen to the invitation (nothing if it
    can): the transition table decides, the refusal table words it."""
    current = state(inv, at)
    if not TRANSITIONS.allowed(current, event):
        raise gone(current)


# --- building blocks (join the caller's transaction) --------------------------------------

def create(
    kind: str,
    target_id: int,
    inviter: InsuredPerson,
    invitee: InsuredPerson,
    actor: Actor,
    expires_at: datetime | None = None,
) -> tuple[Invitation, str]:
    """A new invitation and its raw token (shown once; only the hash is stored). No commit."""
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    inv = Invitation(
        kind=kind,
        target_id=target_id,
        token_hash=token_hash(raw),
        inviter_person_id=inviter.id,
        invitee_person_id=invitee.id,
        expires_at=expires_at or valid_until(inviter),
    )
    db.session.add(inv)
    db.session.flush()
    audit.record("invitation.created", actor, target=inv, person=invitee,
                 detail={"kind": kind, "expires_at": inv.expires_at.isoformat()})
    return inv, raw


def find(raw_token: str) -> Invitation | None:
    """The invitation of a raw token, whatever its state (None when unknown)."""
    if not raw_token or len(raw_token) > MAX_TOKEN_LENGTH:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(raw_token)))


def load(raw_token: str) -> Invitation:
    """The open invitation of a raw token; a distinct error for unknown, used, revoked and
    expired links (NotFound 404, InvitationGone 410)."""
    inv = find(raw_token)
    if inv is None:
        raise NotFound(MSG_UNKNOWN, code="unknown")
    _refuse(inv)
    return inv


def get(public_id: str) -> Invitation | None:
    """The invitation with this public id, if any."""
    return db.session.scalar(select(Invitation).where(Invitation.public_id == public_id))


def person_of(user: Any) -> InsuredPerson:
    """The registry person of a logged-in user; staff may not answer invitations."""
    if isinstance(user, InsuredPerson):
        return user
    if not isinstance(user, User) or user.role != "insured" or user.person is None:
        raise Forbidden(notices.message("staff"), code="staff")
    return user.person


def check_invitee(inv: Invitation, person: InsuredPerson | None) -> None:
    """Only the invitee may answer: Forbidden for anyone else."""
    if person is None or person.id != inv.invitee_person_id:
        raise Forbidden(notices.message("wrong_person"), code="wrong_person")


def claim(inv: Invitation, outcome: str, actor: Actor) -> None:
    """Mark the invitation used with ``outcome`` (an InvitationOutcome) exactly once (no commit).

    One conditional UPDATE decides: of concurrent answers only one changes the row; the others
    get the reason it can no longer be answered.
    """
    outcome = InvitationOutcome(outcome)
    event = EVENT_OF[outcome]
    at = clock.now()
    _refuse(inv, at, event)
    changed = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == inv.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        )
        .values(used_at=at, outcome=outcome.value)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        db.session.refresh(inv)
        _refuse(inv, at, event)
        raise gone(InvitationStatus.USED)  # pragma: no cover - refused above
    set_committed_value(inv, "used_at", at)
    set_committed_value(inv, "outcome", outcome.value)


def revoke(inv: Invitation, by_person: InsuredPerson | None, actor: Actor,
           reason: str = InvitationStatus.REVOKED.value) -> bool:
    """Revoke an unanswered invitation (the inviter, or the system with ``by_person=None``).

    Returns whether this call revoked it; no commit. Revoking does not change the target —
    the flow that owns it does (e.g. kinship_lifecycle.end_binding cancels the binding).
    """
    role = SYSTEM if by_person is None else INVITER
    if by_person is not None and by_person.id != inv.inviter_person_id:
        raise Forbidden(notices.message("not_inviter"), code="not_inviter")
    at = clock.now()
    if not TRANSITIONS.allowed(state(inv, at), "revoke", role):
        return False
    changed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == inv.id, Invitation.used_at.is_(None),
               Invitation.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed == 1:
        set_committed_value(inv, "revoked_at", at)
        audit.record("invitation.revoked", actor, target=inv,
                     person=db.session.get(InsuredPerson, inv.invitee_person_id),
                     detail={"kind": inv.kind, "reason": reason})
    return changed == 1


def latest_for(kind: str, target_id: int) -> Invitation | None:
    """The newest invitation of a target."""
    return db.session.scalar(
        select(Invitation)
        .where(Invitation.kind == kind, Invitation.target_id == target_id)
        .order_by(Invitation.id.desc())
        .limit(1)
    )


def open_for(kind: str, target_id: int, at: datetime | None = None) -> list[Invitation]:
    """The target's invitations that may still be answered."""
    at = at or clock.now()
    return list(db.session.scalars(
        select(Invitation).where(
            Invitation.kind == kind,
            Invitation.target_id == target_id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        )
    ))


def open_for_targets(kind: str, target_ids: Iterable[int],
                     at: datetime | None = None) -> dict[int, list[Invitation]]:
    """``open_for`` for many targets in one query: target id → its open invitations (oldest
    first); targets without one are absent."""
    ids = sorted(set(target_ids))
    found: dict[int, list[Invitation]] = {}
    if not ids:
        return found
    at = at or clock.now()
    for inv in db.session.scalars(
        select(Invitation).where(
            Invitation.kind == kind,
            Invitation.target_id.in_(ids),
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > at,
        ).order_by(Invitation.id)
    ):
        found.setdefault(inv.target_id, []).append(inv)
    return found


# --- whole actions (commit) ---------------------------------------------------------------

def _resolve(ref: Invitation | str) -> Invitation:
    """An open invitation from an Invitation or a raw token."""
    if isinstance(ref, Invitation):
        _refuse(ref)
        return ref
    return load(ref)


def prepare_answer(ref: Invitation | str, user: Any) -> tuple[Invitation, InsuredPerson,
                                                               InvitationHandler]:
    """Every check before an answer, changing nothing: open, the invitee, target waiting."""
    person = person_of(user)
    inv = _resolve(ref)
    check_invitee(inv, person)
    handler = handler_for(inv.kind)
    try:
        handler.check_open(inv)
    except DomainError:
        # The invitation was read before a concurrent answer committed and the target after:
        # the invitation's own state (used, revoked) is the truer reason.
        db.session.refresh(inv)
        _refuse(inv)
        raise
    return inv, person, handler


def accept(ref: Invitation | str, user: Any, actor: Actor) -> Invitation:
    """The invitee accepts: spend their face pass (the handler's purpose), claim the
    invitation, let the handler apply it — one transaction, committed."""
    inv, person, handler = prepare_answer(ref, user)
    try:
        claim(inv, InvitationOutcome.ACCEPTED, actor)
        face.consume(person, handler.face_purpose)
        handler.accepted(inv, person, actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return inv


def decline(ref: Invitation | str, user: Any, actor: Actor) -> Invitation:
    """The invitee declines (no face check needed to say no) — committed."""
    inv, person, handler = prepare_answer(ref, user)
    try:
        claim(inv, InvitationOutcome.DECLINED, actor)
        handler.declined(inv, person, actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return inv


def resend(inv: Invitation, by_person: InsuredPerson, actor: Actor) -> tuple[Invitation, str]:
    """Replace an unanswered invitation with a fresh one (new token, fresh validity) for the
    same target and invitee; the old link stops working. Committed."""
    if by_person.id != inv.inviter_person_id:
        raise Forbidden(notices.message("not_inviter"), code="not_inviter")
    if inv.used_at is not None:
        raise gone(InvitationStatus.USED)
    handler = handler_for(inv.kind)
    handler.check_open(inv)
    try:
        revoke(inv, by_person, actor, reason="resent")
        invitee = inv.invitee
        new, raw = create(inv.kind, inv.target_id, by_person, invitee, actor,
                          expires_at=handler.expires_at(inv))
        audit.record("invitation.resent", actor, target=new, person=invitee,
                     detail={"kind": inv.kind, "replaces": inv.public_id})
        handler.resent(inv, new, actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return new, raw


# --- the sweep ----------------------------------------------------------------------------

def expire_due(now: datetime | None = None) -> dict[str, int]:
    """Let every flow close the targets whose invitations expired unanswered (for
    ``flask housekeeping``); kind → how many. Invitations themselves need no write: past
    ``expires_at`` they read as 已过期."""
    now = now or clock.now()
    return {kind: handler.expire_due(now) for kind, handler in sorted(HANDLERS.items())}
