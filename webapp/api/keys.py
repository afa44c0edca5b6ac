"""POS API keys: create (the clear key is returned once), revoke, authenticate, record use.

A key reads ``qy_<prefix>_<secret>``: ``prefix`` is 8 lowercase hex characters, public and
unique, used to find the row; ``secret`` is 43 URL-safe characters (256 random bits). Only the
SHA-256 of the whole key is stored: the secret is random and long, so a fast hash is enough
(nothing to brute-force) and a lookup costs one indexed query plus one constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.models import ApiKey, Pharmacy

KEY_PREFIX = "qy"
# last_used_at is stamped at most this often: one POS system sends many requests a minute, and
# updating the same key row on every one would serialise them all on its row lock.
LAST_USED_EVERY = timedelta(seconds=60)
KEY_RE = re.compile(r"qy_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
NAME_MAX = 60
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


def hash_key(raw: str) -> str:
    """SHA-256 hex of a clear key (what the database keeps)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _new_prefix() -> str:
    while True:
        prefix = secrets.token_hex(4)
        if db.session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            return prefix


def create_key(pharmacy_code: str, name: str, actor: Actor) -> tuple[ApiKey, str]:
    """A new key for the pharmacy with that 定点机构编码; returns the row and the clear key."""
    pharmacy = db.session.scalar(select(Pharmacy).where(Pharmacy.code == (pharmacy_code or "")))
    if pharmacy is None:
        raise NotFound(f"未找到定点药店 {pharmacy_code}", field="pharmacy", code="unknown_pharmacy")
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise DomainError(f"请填写密钥名称（不超过{NAME_MAX}个字）", field="name", code="invalid_name")
    prefix = _new_prefix()
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(pharmacy_id=pharmacy.id, name=name, prefix=prefix, key_hash=hash_key(raw),
                 created_at=clock.now())
    db.session.add(row)
    db.session.flush()
    audit.record("api_key.created", actor, target=pharmacy,
                 detail={"prefix": prefix, "name": name, "pharmacy": pharmacy.code})
    db.session.commit()
    return row, raw


def revoke_key(prefix: str, actor: Actor) -> ApiKey:
    """Revoke the key with that prefix (idempotent: an already revoked key stays revoked)."""
    row = db.session.scalar(select(ApiKey).where(ApiKey.prefix == (prefix or "").strip().lower()))
    if row is None:
        raise NotFound("未找到该密钥", field="prefix", code="unknown_key")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit.record("api_key.revoked", actor, target=row.pharmacy,
                     detail={"prefix": row.prefix, "name": row.name})
        db.session.commit()
    return row


def list_keys(pharmacy_code: str | None = None) -> list[ApiKey]:
    """Every key (of one pharmacy when given), oldest first."""
    query = select(ApiKey).join(Pharmacy).order_by(ApiKey.id)
    if pharmacy_code:
        query = query.where(Pharmacy.code == pharmacy_code)
    return list(db.session.scalars(query).all())


def prefix_of(raw: str | None) -> str | None:
    """The prefix of a well-formed key, else None (no database access)."""
    match = KEY_RE.fullmatch(raw or "")
    return match.group(1) if match else None


@cache
def _key_by_prefix() -> Select:
    """A key row by ``prefix`` with its pharmacy, built once (every API request asks it)."""
    return select(ApiKey).options(joinedload(ApiKey.pharmacy)) \
        .where(ApiKey.prefix == bindparam("prefix"))


def authenticate(raw: str | None) -> ApiKey | None:
    """The active key row for a clear key, or None (malformed, unknown, wrong or revoked)."""
    prefix = prefix_of(raw)
    row = None
    if prefix is not None:
        row = db.session.scalar(_key_by_prefix(), {"prefix": prefix})
    expected = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(hash_key(raw or ""), expected)
    if row is None or not matches or row.revoked_at is not None:
        return None
    return row


def actor_for(key: ApiKey, ip: str = "", user_agent: str = "") -> Actor:
    """The Actor of requests made with this key: no user, label 'api:<prefix>'."""
    return Actor(user=None, ip=ip, user_agent=user_agent, label=f"api:{key.prefix}")


def record_use(key: ApiKey, actor: Actor, detail: dict, commit: bool = True) -> None:
    """Audit 'api.key_used' (one row per request) and stamp ``last_used_at`` (at most once
    per LAST_USED_EVERY).

    With ``commit=False`` both join the caller's transaction (the API request's service call
    commits them together with its own change).
    """
    now = clock.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        key.last_used_at = now
    audit.record("api.key_used", actor, target=key.pharmacy, detail=detail)
    if commit:
        db.session.commit()
