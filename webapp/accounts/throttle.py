"""Failed logins counted in the database, so every worker and instance sees the same count.

Two limits from config (Flask-Limiter's notation, e.g. ``"5 per minute"``): RATELIMIT_LOGIN per
client address (over it the address waits: 429) and RATELIMIT_LOGIN_PHONE per phone (over it the
phone's login needs the SMS code as a second factor, so a stranger cannot lock the owner out).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from limits import RateLimitItem, parse
from sqlalchemy import delete, func, select

from webapp import clock
from webapp.accounts.models import LoginFailure
from webapp.extensions import db

# One successful login in this many deletes the failures older than a day (past every window).
PURGE_ONE_IN = 100


def _limit(key: str) -> RateLimitItem:
    value = current_app.config.get(key) or current_app.config["RATELIMIT_LOGIN"]
    return parse(value)


def _count(column, value: str, limit: RateLimitItem) -> int:
    since = clock.now() - timedelta(seconds=limit.get_expiry())
    return db.session.scalar(
        select(func.count(LoginFailure.id)).where(column == value, LoginFailure.at > since)
    ) or 0


def address_blocked(ip: str) -> bool:
    """Whether this client address has used up its failed logins."""
    limit = _limit("RATELIMIT_LOGIN")
    return _count(LoginFailure.ip, ip[:64], limit) >= limit.amount


def phone_needs_code(phone: str) -> bool:
    """Whether logging in to this phone needs the SMS code besides the password."""
    limit = _limit("RATELIMIT_LOGIN_PHONE")
    return _count(LoginFailure.phone, phone[:20], limit) >= limit.amount


def record_failure(phone: str, ip: str) -> None:
    """Count one failed login (committed with the caller's transaction)."""
    db.session.add(LoginFailure(phone=phone[:20], ip=ip[:64], at=clock.now()))


def clear_phone(phone: str) -> None:
    """The owner got in: forget the phone's failures (and now and then everyone's old rows)."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.phone == phone[:20]))
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        oldest = clock.now() - timedelta(days=1)
        db.session.execute(delete(LoginFailure).where(LoginFailure.at < oldest))
