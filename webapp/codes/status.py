"""The 医保码 page's payment-status poll: what became of the codes the page showed.

Answered from the cheapest correct place: the Redis keys a settlement writes after it commits
(``webapp.codes.paid``, when ``REDIS_URL`` is set), else one indexed lookup of the shown codes
(``code_hash`` is unique) joined to their settlement and pharmacy. Only codes the user issued
for this subject are looked at, so the endpoint reveals nothing about anyone else's codes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from sqlalchemy import Connection, Select, bindparam, select

from webapp import clock
from webapp.codes import paid
from webapp.codes.services import (
    code_rules,
    codes_to_watch,
    hash_code,
    normalize,
    resolve_subject,
)
from webapp.codes.states import SettlementStatus
from webapp.domain import Forbidden
from webapp.extensions import db
from webapp.models import InsuranceCode, Pharmacy, Settlement, User
from webapp.money import yuan


def code_status(user: User, key: str, codes: list[str], watch: list[str] | None = None) -> dict:
    """What became of the codes this page showed (newest last): paid, valid, expired, used.

    ``watch`` names settlements this page already announced as paid; those since cancelled
    come back under ``"cancelled"`` so the page can say the payment was undone. Only codes the
    user issued for this subject are looked at, so the endpoint reveals nothing about anyone
    else's codes or settlements.
    """
    subject = resolve_subject(user.person, key) if user.person else None
    if subject is None:
        raise Forbidden("仅参保人本人可以出示医保码", code="forbidden")
    return status_of(user.id, subject.person.id, codes_to_watch(code_rules(subject.person)),
                     codes, watch or [])


def status_of(user_id: int, person_id: int, keep: int, codes: list[str],
              watch: list[str], connect: Callable[[], Connection] | None = None) -> dict:
    """The answer for the latest ``keep`` codes (and watched settlements) that ``user_id``
    issued for patient ``person_id`` — from a poll token's grant or the session's user.
    The statements run on ``connect()`` (default: the ORM session's connection), asked only
    when Redis does not answer (the poll lane's read-only connection: webapp/codes/lane.py)."""
    hashes = [hash_code(normalize(c)) for c in codes[-keep:] if c]
    watch = [w for w in watch[-keep:] if w]
    cached = _from_redis(user_id, person_id, hashes, watch)
    if cached is not None:
        return cached
    connection = connect() if connect is not None else db.session.connection()
    answer = _from_database(connection, user_id, person_id, hashes)
    if watch:
        answer["cancelled"] = _cancelled_since(connection, user_id, person_id, watch)
    return answer


def _cancelled_since(connection: Connection, user_id: int, person_id: int,
                     watch: list[str]) -> list[dict]:
    watch = [w for w in watch if w]
    if not watch:
        return []
    # Driven from settlement.public_id (unique); whose code paid is checked on the rows found
    # (see _from_database: the issuer index would be walked otherwise).
    rows = connection.execute(
        select(Settlement.public_id, Settlement.total_fen, Pharmacy.name,
               InsuranceCode.issued_by_user_id, InsuranceCode.person_id)
        .join(InsuranceCode, InsuranceCode.settlement_id == Settlement.id)
        .join(Pharmacy, Pharmacy.id == Settlement.pharmacy_id)
        .where(Settlement.public_id.in_(watch),
               Settlement.status == SettlementStatus.CANCELLED)
    ).all()
    return [_cancelled(r.public_id, r.total_fen, r.name) for r in rows
            if r.issued_by_user_id == user_id and r.person_id == person_id]


def _cancelled(public_id: str, total_fen: int, pharmacy: str) -> dict:
    return {"settlement": public_id, "message": f"¥{yuan(total_fen)} 的支付已撤销，已退回原账户",
            "pharmacy": pharmacy}


def _paid(public_id: str, total_fen: int, pharmacy: str, cancelled: bool) -> dict:
    return {
        "state": "paid",
        "settlement": public_id,
        "amount_fen": total_fen,
        "message": (f"¥{yuan(total_fen)} 的支付已撤销" if cancelled else f"已支付 ¥{yuan(total_fen)}"),
        "pharmacy": pharmacy,
        "cancelled": cancelled,
    }


STALE = "该码已失效，已为您刷新"


def _from_redis(user_id: int, person_id: int, hashes: list[str],
                watch: list[str]) -> dict | None:
    """The answer from the keys settlements write after commit (None: ask the database)."""
    found = paid.lookup(hashes, watch)
    if found is None:
        return None
    by_code, by_settlement = found

    def mine(p: dict | None) -> bool:
        return p is not None and p.get("user") == user_id and p.get("person") == person_id

    if any(p is not None and p.get("user") is None for p in by_settlement):
        return None  # a key written without its payment (expired or older): ask the database
    if watch and any(p is None for p in by_settlement):
        return None
    answer: dict = {"state": "pending"} if hashes else {"state": "unknown"}
    payments = [p for p in by_code if mine(p)]
    if payments:
        last = payments[-1]
        answer = _paid(last["settlement"], last["amount_fen"], last["pharmacy"],
                       bool(last["cancelled"]))
    if watch:
        answer["cancelled"] = [_cancelled(p["settlement"], p["amount_fen"], p["pharmacy"])
                               for p in by_settlement if mine(p) and p["cancelled"]]
    return answer


@cache
def _shown_codes() -> Select:
    """The shown codes with their payment, built once (the poll runs every few seconds per
    open code page); ``hashes`` is an expanding parameter."""
    return (
        select(InsuranceCode.code_hash, InsuranceCode.used_at, InsuranceCode.expires_at,
               InsuranceCode.issued_by_user_id, InsuranceCode.person_id,
               Settlement.public_id, Settlement.total_fen, Settlement.status, Pharmacy.name)
        .outerjoin(Settlement, Settlement.id == InsuranceCode.settlement_id)
        .outerjoin(Pharmacy, Pharmacy.id == Settlement.pharmacy_id)
        .where(InsuranceCode.code_hash.in_(bindparam("hashes", expanding=True)))
    )


def _from_database(connection: Connection, user_id: int, person_id: int,
                   hashes: list[str]) -> dict:
    """One indexed lookup: the shown codes (code_hash is unique) with their payment."""
    if not hashes:
        return {"state": "unknown"}
    # Only code_hash (unique) in the WHERE: with the issuer and patient there too, SQLite (and
    # PostgreSQL on stale statistics) walk ix_insurance_code_issuer_subject instead — every
    # code the user ever showed for this person, thousands on a page left open. Whose code
    # it is gets checked on the few rows found.
    rows = connection.execute(_shown_codes(), {"hashes": hashes}).all()
    by_hash = {r.code_hash: r for r in rows
               if r.issued_by_user_id == user_id and r.person_id == person_id}
    paid_rows = [by_hash[h] for h in hashes if h in by_hash and by_hash[h].public_id]
    if paid_rows:
        last = paid_rows[-1]
        return _paid(last.public_id, last.total_fen, last.name,
                     last.status == SettlementStatus.CANCELLED)
    current = by_hash.get(hashes[-1])
    if current is None:
        return {"state": "unknown", "message": STALE}
    if current.used_at is not None:
        return {"state": "used", "message": STALE}
    now = clock.now()
    if current.expires_at <= now:
        return {"state": "expired", "message": STALE}
    return {"state": "valid", "expires_in": int((current.expires_at - now).total_seconds())}
