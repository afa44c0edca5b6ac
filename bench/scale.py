"""Background rows at national scale for the bench: N registry people and, in proportion,
accounts, opening ledger rows, registered users, bindings, 家庭共济 groups, expired 医保码,
settlements with their ledger rows and msgid records.

PostgreSQL gets the rows through ``COPY … FROM STDIN`` (1 M people and ~8 M rows in a few
minutes); SQLite through Core executemany. Ids are assigned here (sequences are moved past
them afterwards), so the tables can be filled in one pass without reading anything back.

Proportions per 1 000 people (the 2 000-people bench seed had 500 bindings and 2 500 codes):
700 employees with an account and an opening row, 300 registered users, 500 bindings,
50 共济 groups of 2 members, 2 500 expired codes (the hour before the purge deletes them, as
a steady state: ``flask housekeeping`` keeps the table bounded), 1 000 settlements spread over
the last 60 days with a payment ledger row each, and 500 msgid records of the last 7 days.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import Table, func, insert, select, text

from webapp import clock
from webapp.codes.models import MessageRecord
from webapp.columns import new_public_id
from webapp.extensions import db
from webapp.idnumber import make_id_number
from webapp.models import (
    AidGroup,
    AidMember,
    InsuranceCode,
    InsuredPerson,
    KinshipBinding,
    LedgerEntry,
    PersonalAccount,
    Settlement,
    User,
)

REGION = "360124"  # 进贤县: no demo or bench-family person is born there
DAYS = 365 * 60  # birth dates over 60 years: with sequences 0-999, 21.9 M distinct numbers
CHUNK = 20_000
OPENING = 100_00  # each employee's opening balance (fen)
PRICE = 100  # each background settlement (fen), paid from the patient's own account


def _value(v) -> str:
    if v is None:
        return r"\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime | date):
        return v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _defaults(table: Table, columns: list[str]) -> dict[str, object]:
    """Scalar Python defaults of the columns not given (callables are called per row)."""
    out = {}
    for col in table.columns:
        if col.name in columns or col.default is None:
            continue
        out[col.name] = col.default
    return out


def _complete(table: Table, rows: Iterable[dict]) -> Iterator[dict]:
    defaults = None
    for row in rows:
        if defaults is None:
            defaults = _defaults(table, list(row))
        for name, default in defaults.items():
            arg = default.arg  # type: ignore[attr-defined]
            row[name] = arg(None) if callable(arg) else arg
        yield row


def load(table: Table, rows: Iterable[dict]) -> int:
    """Insert rows (dicts, ids included) into ``table``; PostgreSQL via COPY."""
    rows = _complete(table, rows)
    dialect = db.engine.dialect.name
    count = 0
    batch: list[dict] = []

    def flush() -> None:
        nonlocal count
        if not batch:
            return
        if dialect == "postgresql":
            names = list(batch[0])
            buf = io.StringIO()
            for r in batch:
                buf.write("\t".join(_value(r[n]) for n in names))
                buf.write("\n")
            raw = db.session.connection().connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
        else:
            db.session.execute(insert(table), batch)
        count += len(batch)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
    flush()
    return count


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _move_sequences(models) -> None:
    if db.engine.dialect.name != "postgresql":
        return
    for model in models:
        name = model.__table__.name
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {name}))"))


def populate(people: int, pharmacy_id: int, log=print) -> dict[str, int]:
    """Add ``people`` registry people and every proportional row; counts per table."""
    now = clock.now()
    started = time.perf_counter()
    counts: dict[str, int] = {}
    p0, a0, l0, u0 = (_next_id(m) for m in (InsuredPerson, PersonalAccount, LedgerEntry, User))
    b0, g0, m0, c0 = (_next_id(m) for m in (KinshipBinding, AidGroup, AidMember, InsuranceCode))
    s0, r0 = _next_id(Settlement), _next_id(MessageRecord)
    first = db.session.scalar(select(func.count()).select_from(InsuredPerson)) or 0
    base = date(1950, 1, 1)
    employee = [i % 10 < 7 for i in range(10)]
    from werkzeug.security import generate_password_hash

    hashed = generate_password_hash("Scale-Passw0rd!")

    def person_rows():
        for i in range(people):
            k = first + i
            birth = base + timedelta(days=k % DAYS)
            seq = (k // DAYS) % 1000
            yield {"id": p0 + i, "public_id": new_public_id(), "created_at": now,
                   "id_number": make_id_number(REGION, birth, seq), "name": f"规模{k}",
                   "gender": "男" if seq % 2 else "女", "birth_date": birth,
                   "phone": None, "region_code": REGION[:2] + "0000",
                   "insurance_type": "employee" if employee[i % 10] else "resident",
                   "status": "active", "card_activated": True, "face_check_fails": False}

    counts["insured_person"] = load(InsuredPerson.__table__, person_rows())
    emp = [i for i in range(people) if employee[i % 10]]
    account_of = {i: a0 + n for n, i in enumerate(emp)}
    # Settlement n is paid from the account of emp[n % len(emp)]: the balance after it follows.
    paid = {i: people // len(emp) + (n < people % len(emp)) for n, i in enumerate(emp)}
    counts["personal_account"] = load(PersonalAccount.__table__, (
        {"id": account_of[i], "person_id": p0 + i, "balance_fen": OPENING - PRICE * paid[i]}
        for i in emp))
    counts["ledger_entry"] = load(LedgerEntry.__table__, (
        {"id": l0 + n, "public_id": new_public_id(), "created_at": now,
         "account_id": account_of[i], "amount_fen": OPENING, "balance_after_fen": OPENING,
         "kind": "opening", "memo": "期初余额"} for n, i in enumerate(emp)))
    l1 = l0 + len(emp)
    log(f"scale: people, accounts, opening rows in {time.perf_counter() - started:.0f} s")
    users = range(0, people, 10)  # 1 in 10 …
    users3 = [i for j in users for i in (j, j + 3, j + 6) if i < people]  # … × 3 = 30 %
    counts["user_account"] = load(User.__table__, (
        {"id": u0 + n, "public_id": new_public_id(), "created_at": now,
         "phone": f"19{first + i:09d}", "password_hash": hashed, "role": "insured",
         "person_id": p0 + i, "display_name": "", "elder_mode": False}
        for n, i in enumerate(users3)))
    counts["kinship_binding"] = load(KinshipBinding.__table__, (
        {"id": b0 + n, "public_id": new_public_id(), "created_at": now,
         "holder_person_id": p0 + i, "member_person_id": p0 + i + 1, "relation": "spouse",
         "status": "active", "region_code": REGION[:2] + "0000", "bound_at": now}
        for n, i in enumerate(range(0, people - 1, 2))))
    owners = [i for i in range(0, people - 1, 20) if employee[i % 10]]
    counts["aid_group"] = load(AidGroup.__table__, (
        {"id": g0 + n, "public_id": new_public_id(), "created_at": now,
         "owner_person_id": p0 + i, "region_code": REGION[:2] + "0000", "status": "active"}
        for n, i in enumerate(owners)))
    counts["aid_member"] = load(AidMember.__table__, (
        {"id": m0 + n, "public_id": new_public_id(), "created_at": now, "group_id": g0 + n,
         "person_id": p0 + i + 1, "relation": "spouse", "status": "active",
         "starts_on": clock.today() - timedelta(days=30), "joined_at": now}
        for n, i in enumerate(owners)))
    log(f"scale: users, bindings, 共济 groups in {time.perf_counter() - started:.0f} s")

    def code_rows():
        for n in range(people * 5 // 2):
            created = now - timedelta(seconds=90 + (n * 7) % 3600)
            digest = hashlib.sha256(f"scale-code-{first}-{n}".encode()).hexdigest()
            yield {"id": c0 + n, "code_hash": digest, "person_id": p0 + n % people,
                   "created_at": created, "expires_at": created + timedelta(seconds=90)}

    counts["insurance_code"] = load(InsuranceCode.__table__, code_rows())
    log(f"scale: expired codes in {time.perf_counter() - started:.0f} s")
    payers = emp

    def settlement_rows():
        for n in range(people):
            i = payers[n % len(payers)]
            at = now - timedelta(seconds=(n * 5183) % (60 * 86400))
            yield {"id": s0 + n, "public_id": new_public_id(), "created_at": at,
                   "pharmacy_id": pharmacy_id, "person_id": p0 + i, "actor_label": "scale",
                   "business_type": "02121", "total_fen": PRICE, "account_fen": PRICE,
                   "aid_fen": 0, "cash_fen": 0, "items": "感冒灵颗粒×1", "status": "settled",
                   "msgid": None, "cash_refunded_fen": 0}

    counts["settlement"] = load(Settlement.__table__, settlement_rows())
    counts["ledger_entry"] += load(LedgerEntry.__table__, (
        {"id": l1 + n, "public_id": new_public_id(), "created_at": now,
         "account_id": account_of[payers[n % len(payers)]], "amount_fen": -PRICE,
         "balance_after_fen": OPENING - PRICE * (n // len(payers) + 1), "kind": "payment",
         "memo": "药店结算", "settlement_id": s0 + n,
         "beneficiary_person_id": p0 + payers[n % len(payers)]} for n in range(people)))
    counts["message_record"] = load(MessageRecord.__table__, (
        {"id": r0 + n, "created_at": now - timedelta(seconds=(n * 13) % (7 * 86400)),
         "pharmacy_id": pharmacy_id, "msgid": f"SCALE{first + n:025d}", "kind": "settle",
         "fingerprint": "", "settlement_id": s0 + n, "answer": "{}"}
        for n in range(people // 2)))
    _move_sequences([InsuredPerson, PersonalAccount, LedgerEntry, User, KinshipBinding,
                     AidGroup, AidMember, InsuranceCode, Settlement, MessageRecord])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    log(f"scale: {sum(counts.values()):,} rows in {time.perf_counter() - started:.0f} s")
    return counts
