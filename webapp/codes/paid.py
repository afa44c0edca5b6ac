"""The payment-status poll's fast answer: Redis keys written once a settlement commits.

When ``REDIS_URL`` is configured, a settlement (and later its cancellation) writes, in its
transaction's **after-commit**, two keys:

    <prefix>code:<code_hash>          the payment of that code (settlement, amount, pharmacy,
                                      cancelled, and whose code it was: user id, person id)
    <prefix>settlement:<public_id>    the same, for a page watching an announced payment

so that the page's poll (every shown code, every few seconds) is answered by one ``MGET``
instead of a database lookup. A rolled-back settlement writes nothing (the pending keys are
dropped in ``after_rollback``). Without Redis, or when Redis fails, the poll asks the database
(one indexed lookup, ``webapp.codes.services``). A code's key lives ``CODE_KEY_SECONDS`` (as
long as the code's row: a page stops polling a code long before); a settlement's key as long
as the settlement can still be cancelled (the pharmacy's ``cancel_days`` in the policy table,
to the end of that China day) — at a province's 250 settlements/s a fixed two days would have
kept ~86 M keys (docs/SCALING.md). Only the payment is cached: a code's expiry is the page's own
countdown, and the poll of a code with no key answers ``pending``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from webapp.models import Settlement

DAY_SECONDS = 24 * 3600
CODE_KEY_SECONDS = 2 * 3600  # a code row is purged an hour after it expires (codes.services)


def settlement_keep_seconds(cancel_days: int) -> int:
    """How long a settlement's key is needed: until its cancel window has closed for sure."""
    return (cancel_days + 1) * DAY_SECONDS
_PENDING = "paid_status_keys"
log = logging.getLogger(__name__)


def client():
    """The app's Redis client for these keys, or None (no REDIS_URL)."""
    if not has_app_context():
        return None
    app = current_app
    if "paid_status_redis" not in app.extensions:
        # PAID_STATUS_REDIS_URL (also when set empty: off), else REDIS_URL (config or env).
        url = app.config.get("PAID_STATUS_REDIS_URL")
        if url is None:
            url = app.config.get("REDIS_URL") or os.environ.get("REDIS_URL", "")
        made = None
        if url:
            import redis

            made = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        app.extensions["paid_status_redis"] = made
    return app.extensions["paid_status_redis"]


def prefix() -> str:
    return str(current_app.config.get("PAID_STATUS_PREFIX", "qy:paid:"))


def code_key(code_hash: str) -> str:
    return f"{prefix()}code:{code_hash}"


def settlement_key(public_id: str) -> str:
    return f"{prefix()}settlement:{public_id}"


def value(settlement: Settlement, pharmacy_name: str, user_id: int | None) -> dict[str, Any]:
    """What the poll needs of a payment (and who may see it)."""
    return {"settlement": settlement.public_id, "amount_fen": settlement.total_fen,
            "pharmacy": pharmacy_name, "cancelled": settlement.cancelled_at is not None,
            "user": user_id, "person": settlement.person_id}


def after_commit(session: Session, code_hash: str | None, payment: dict[str, Any],
                 keep_seconds: int) -> None:
    """Write the payment's keys once this session's transaction commits (not before, never
    after a rollback). ``code_hash`` None: find it under the settlement key (a cancellation);
    ``keep_seconds``: the settlement key's lifetime (``settlement_keep_seconds``)."""
    if client() is None:
        return
    session.info.setdefault(_PENDING, []).append((code_hash, payment, keep_seconds))


@event.listens_for(Session, "after_commit")
def _write(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    redis = client()
    if redis is None:
        return
    # Writes that failed earlier in this process go first (until then this process's polls
    # read the database; see ``lookup``).
    retry = current_app.extensions.setdefault("paid_status_retry", [])
    todo, retry[:] = [*retry, *pending], []
    for done, (code_hash, payment, keep) in enumerate(todo):
        try:
            _store(redis, code_hash, payment, keep)
        except Exception as err:  # noqa: BLE001 - Redis down: polls fall back to the database
            log.warning("paid status: redis write failed (%s); polls read the database",
                        type(err).__name__)
            retry.extend(todo[done:])
            return


def _store(redis, code_hash: str | None, payment: dict[str, Any], keep: int) -> None:
    key = settlement_key(payment["settlement"])
    if code_hash is None:  # a cancellation: the code is named under the settlement's key
        known = redis.get(key)
        earlier = json.loads(known) if known else {}
        code_hash = earlier.get("code_hash")
        payment = {**earlier, **payment}
    text = json.dumps({**payment, "code_hash": code_hash}, ensure_ascii=False)
    pipe = redis.pipeline(transaction=False)
    pipe.set(key, text, ex=keep)
    if code_hash:
        pipe.set(code_key(code_hash), text, ex=min(keep, CODE_KEY_SECONDS))
    pipe.execute()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def lookup(code_hashes: list[str], settlements: list[str]) -> tuple[list, list] | None:
    """(payments of the codes, payments of the settlements) in one MGET, each None when
    unknown; None when Redis is not configured, failed, or missed a write (then the caller
    asks the database)."""
    redis = client()
    if redis is None or current_app.extensions.get("paid_status_retry"):
        return None
    keys = [code_key(h) for h in code_hashes] + [settlement_key(s) for s in settlements]
    if not keys:
        return [], []
    try:
        found = redis.mget(keys)
    except Exception as err:  # noqa: BLE001
        log.warning("paid status: redis read failed (%s)", type(err).__name__)
        return None
    parsed = [json.loads(v) if v else None for v in found]
    return parsed[:len(code_hashes)], parsed[len(code_hashes):]
