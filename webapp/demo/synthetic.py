"""Synthetic registry people for scale tests: ``add_synthetic_people(n)`` bulk-inserts valid
people (chunks of Core executemany, COPY on PostgreSQL; ID sequences 900–999 and phones 199…
are theirs)."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.columns import new_public_id
from webapp.extensions import db
from webapp.idnumber import make_id_number
from webapp.models import InsuredPerson, LedgerEntry, PersonalAccount
from webapp.registry.states import InsuredStatus

ACTOR = Actor(label="demo")


# --- synthetic people for scale tests -------------------------------------------------------

# Sequences 900–999 are reserved for synthetic people (the demo uses 1xx–3xx), so they never
# take a demo person's number; phones 199xxxxxxxx likewise.
SYNTHETIC_SEQ_FIRST, SYNTHETIC_SEQS = 900, 100
SYNTHETIC_PHONE_PREFIX = "199"
CHUNK = 5_000
# A district of each mainland province's capital (GB/T 2260), for the ID numbers.
DISTRICTS = (
    "110101", "120101", "130102", "140105", "150102", "210102", "220102", "230102", "310101",
    "320102", "330102", "340102", "350102", "360102", "370102", "410102", "420102", "430102",
    "440103", "450102", "460105", "500101", "510104", "520102", "530102", "540102", "610102",
    "620102", "630102", "640104", "650102",
)
MAX_AGE_DAYS = 90 * 365  # birth dates spread over the last 90 years
_SPACE = len(DISTRICTS) * SYNTHETIC_SEQS * MAX_AGE_DAYS
# A multiplier coprime with the space: counter → identity is a bijection that spreads
# consecutive counters over provinces, sequences and birth dates.
_MULT = next(m for m in range(2_654_435_761, 2_654_435_761 + 1000) if math.gcd(m, _SPACE) == 1)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方")
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林峰建国志文海东亮晨阳博诚毅轩然睿哲子一泽思宏振"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英燕萍红雪琳婷慧颖倩洁欣怡佳梅兰月莉晶璐瑶琪蕾薇诗涵雅悦可馨雨彤妍萱梦晓思"


def synthetic_identity(k: int, today: date) -> tuple[str, date, int]:
    """(district, birth date, sequence) of the k-th synthetic person (distinct for each k)."""
    m = (k * _MULT) % _SPACE
    district = DISTRICTS[m % len(DISTRICTS)]
    m //= len(DISTRICTS)
    seq = SYNTHETIC_SEQ_FIRST + m % SYNTHETIC_SEQS
    birth = today - timedelta(days=1 + m // SYNTHETIC_SEQS)
    return district, birth, seq


def _synthetic_name(rnd: random.Random, male: bool) -> str:
    """A plausible Chinese name: a common surname and one or two given-name characters."""
    surname = rnd.choice(COMPOUND_SURNAMES) if rnd.random() < 0.02 else rnd.choice(SURNAMES)
    chars = MALE_CHARS if male else FEMALE_CHARS
    return surname + "".join(rnd.choice(chars) for _ in range(1 if rnd.random() < 0.3 else 2))


def _next_counter() -> int:
    """The first counter not used yet: one past the highest synthetic phone in the registry."""
    top = db.session.scalar(select(func.max(InsuredPerson.phone)).where(
        InsuredPerson.phone.like(SYNTHETIC_PHONE_PREFIX + "%")))
    return int(top[len(SYNTHETIC_PHONE_PREFIX):]) + 1 if top else 0


def _synthetic_rows(k: int, today: date, now, rnd: random.Random) -> dict:
    """The insured_person row of the k-th synthetic person (and its balance under 'balance')."""
    district, birth, seq = synthetic_identity(k, today)
    age = (today - birth).days // 365
    working = 18 <= age < 65
    employee = rnd.random() < (0.75 if working else 0.35 if age >= 60 else 0)
    balance = 0 if not employee or rnd.random() < 0.05 else rnd.randrange(1, 800_000)
    return {
        "public_id": new_public_id(),
        "created_at": now,
        "id_number": make_id_number(district, birth, seq),
        "name": _synthetic_name(rnd, seq % 2 == 1),
        "gender": "男" if seq % 2 else "女",
        "birth_date": birth,
        "phone": f"{SYNTHETIC_PHONE_PREFIX}{k:08d}",
        "region_code": district[:2] + "0000",
        "insurance_type": "employee" if employee else "resident",
        "status": InsuredStatus.SUSPENDED if rnd.random() < 0.03 else InsuredStatus.ACTIVE,
        "card_activated": rnd.random() < 0.98,
        "face_check_fails": False,
        "balance": balance,
    }


def _taken_synthetic_numbers() -> set[str]:
    """ID numbers already in the reserved synthetic sequences (the only ones that can clash)."""
    seq = func.substr(InsuredPerson.id_number, 15, 3)
    return set(db.session.scalars(
        select(InsuredPerson.id_number).where(seq >= f"{SYNTHETIC_SEQ_FIRST:03d}")))


def bulk_insert(table, rows: list[dict]) -> None:
    """Insert rows (dicts with the same keys) in the session's transaction: COPY on
    PostgreSQL with psycopg 3, Core ``insert()`` executemany elsewhere."""
    conn = db.session.connection()
    raw = conn.connection.driver_connection
    if raw is None or conn.dialect.name != "postgresql" or not hasattr(raw, "pipeline"):
        conn.execute(insert(table), rows)
        return
    quote = conn.dialect.identifier_preparer.quote
    columns = list(rows[0])
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def _insert_returning_ids(table, rows: list[dict], key: str) -> list[tuple[int, Any]]:
    """Bulk-insert the rows, then read back (id, row[key]) of the rows just added.

    Ids only grow, so the new rows are those above the highest id seen before the insert;
    rows added meanwhile by someone else are left out by the caller's key lookup.
    """
    last = db.session.scalar(select(func.max(table.c.id))) or 0
    bulk_insert(table, rows)
    return [(int(i), k) for i, k in db.session.execute(
        select(table.c.id, table.c[key]).where(table.c.id > last))]


def add_synthetic_people(count: int, actor: Actor = ACTOR, chunk: int = CHUNK) -> int:
    """Bulk-add ``count`` valid synthetic people (employees with accounts and opening rows).

    Core ``insert()`` executemany in chunks, one transaction; numbers that already exist are
    skipped. Deterministic: the same database state gives the same people.
    """
    if count <= 0:
        return 0
    today, now = clock.today(), clock.now()
    k = _next_counter()
    rnd = random.Random(k)
    taken = _taken_synthetic_numbers()
    people, accounts, ledger = (InsuredPerson.__table__, PersonalAccount.__table__,
                                LedgerEntry.__table__)
    added = 0
    while added < count:
        rows = []
        for row in (_synthetic_rows(k + i, today, now, rnd)
                    for i in range(min(chunk, count - added))):
            if row["id_number"] not in taken:
                taken.add(row["id_number"])
                rows.append(row)
        k += min(chunk, count - added)
        if not rows:
            continue
        balances = {}  # id number → opening balance, employees only
        for r in rows:
            balance = r.pop("balance")
            if r["insurance_type"] == "employee":
                balances[r["id_number"]] = balance
        balance_of = {pid: balances[num]
                      for pid, num in _insert_returning_ids(people, rows, "id_number")
                      if num in balances}
        if balance_of:
            acc_rows = [{"person_id": pid, "balance_fen": bal} for pid, bal in balance_of.items()]
            entries = [{"public_id": new_public_id(), "created_at": now, "account_id": aid,
                        "amount_fen": balance_of[pid], "balance_after_fen": balance_of[pid],
                        "kind": "opening", "memo": "期初余额"}
                       for aid, pid in _insert_returning_ids(accounts, acc_rows, "person_id")
                       if balance_of.get(pid)]
            if entries:
                bulk_insert(ledger, entries)
        added += len(rows)
    audit.record("registry.bulk_add", actor, detail={"count": added})
    db.session.commit()
    return added
