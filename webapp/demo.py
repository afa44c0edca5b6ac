"""Demo data: three families (江西, 江苏, 海南), two pharmacies, a reviewer, and the logins
``flask init-demo`` prints. Everything goes through ``webapp.registry.services``; birth dates
are computed from ``clock.today()`` so the ages stay right whenever the demo is seeded.

``seed_demo()`` is idempotent. ``add_synthetic_people(n)`` bulk-inserts valid synthetic people
for scale tests (chunks of Core executemany, COPY on PostgreSQL; ID sequences 900–999 and
phones 199… are theirs)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.columns import new_public_id
from webapp.extensions import db
from webapp.idnumber import make_id_number
from webapp.models import InsuredPerson, LedgerEntry, PersonalAccount, Pharmacy, User
from webapp.registry import services as registry
from webapp.registry.states import InsuredStatus

PASSWORD = "Demo1234"
ACTOR = Actor(label="demo")


@dataclass(frozen=True)
class DemoPerson:
    """One registry person of the demo: age in years (+ days past the birthday) on seeding."""

    name: str
    district: str  # region code of the ID number (a city district)
    seq: int  # ID sequence: odd = male
    years: int
    days: int
    insurance: str = "resident"
    balance_fen: int = 0
    status: str = InsuredStatus.ACTIVE
    phone: str | None = None
    login: bool = False  # create a login (phone + Demo1234)
    face_check_fails: bool = False
    who: str = ""  # who they are, for the printed list of logins
    born: date | None = None  # a fixed birth date (a stable ID number the README quotes)


@dataclass(frozen=True)
class DemoStaff:
    """A pharmacy (when ``pharmacy`` is set) or reviewer login."""

    role: str
    phone: str
    name: str
    pharmacy: tuple[str, str, str] | None = None  # (name, code, region)
    who: str = ""


NANCHANG, NANJING, HAIKOU = "360102", "320102", "460105"

FAMILIES: tuple[tuple[str, tuple[DemoPerson, ...]], ...] = (
    ("江西·南昌 张家", (
        DemoPerson("张建国", NANCHANG, 111, 38, 75, "employee", 235_000, phone="13800000001",
                   login=True, who="江西 张建国，职工医保，个人账户 ¥2350.00（一家之主）",
                   born=date(1988, 3, 15)),  # 360102198803151117, quoted in README.md
        DemoPerson("李秀英", NANCHANG, 112, 36, 140, "employee", 120_000, phone="13800000002",
                   who="妻子，未注册账号（可演示注册）"),
        DemoPerson("张子豪", NANCHANG, 113, 16, 120, phone="13800000003", login=True,
                   who="江西 张子豪，16周岁，居民医保（需本人确认邀请）"),
        DemoPerson("张小明", NANCHANG, 115, 8, 30, who="儿子，8周岁"),
        DemoPerson("张小红", NANCHANG, 114, 5, 200, who="女儿，5周岁"),
        DemoPerson("张德胜", NANCHANG, 117, 66, 50, phone="13800000004", login=True,
                   who="江西 张德胜，66周岁，居民医保（张建国的父亲）"),
        DemoPerson("王桂兰", NANCHANG, 116, 64, 300, "employee", 368_000, phone="13800000005",
                   who="母亲，退休职工，未注册账号"),
    )),
    ("江苏·南京 陈家", (
        DemoPerson("陈志强", NANJING, 211, 42, 95, "employee", 128_050, phone="13800000011",
                   login=True, who="江苏 陈志强，职工医保，个人账户 ¥1280.50（材料需审核）"),
        DemoPerson("刘芳", NANJING, 212, 40, 180, "employee", 0, phone="13800000012",
                   login=True, who="江苏 刘芳，职工医保，个人账户余额为 0（共济无法支付）"),
        DemoPerson("陈浩然", NANJING, 213, 17, 10, phone="13800000013",
                   who="儿子，17周岁，未注册账号（可演示接受邀请时注册）"),
        DemoPerson("陈思涵", NANJING, 214, 10, 66, who="女儿，10周岁"),
        DemoPerson("陈福生", NANJING, 215, 71, 20, phone="13800000014", who="父亲，71周岁"),
        DemoPerson("周玉兰", NANJING, 216, 69, 250, "employee", 52_000, phone="13800000015",
                   who="母亲，退休职工"),
    )),
    ("海南·海口 林家", (
        DemoPerson("林海波", HAIKOU, 311, 45, 33, "employee", 86_000, phone="13800000021",
                   login=True, who="海南 林海波，职工医保，个人账户 ¥860.00"),
        DemoPerson("符丽娜", HAIKOU, 312, 43, 160, "employee", 52_000, phone="13800000022",
                   login=True, face_check_fails=True,
                   who="海南 符丽娜，职工医保 —— 人脸核验总是失败（演示失败）"),
        DemoPerson("林晓琳", HAIKOU, 314, 16, 30, phone="13800000023",
                   who="女儿，16周岁，未注册账号"),
        DemoPerson("林子轩", HAIKOU, 313, 12, 90, who="儿子，12周岁"),
        DemoPerson("林小雨", HAIKOU, 316, 3, 45, who="女儿，3周岁"),
        DemoPerson("林德福", HAIKOU, 315, 74, 110, phone="13800000024", who="父亲，74周岁"),
        DemoPerson("吴秋菊", HAIKOU, 318, 70, 5, status=InsuredStatus.SUSPENDED, phone="13800000025",
                   who="母亲，70周岁，暂停参保（未参保，不能绑定/共济）"),
    )),
)

STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("pharmacy", "13600000001", "王敏", ("仁心大药房", "P36010200001", "360000"),
              who="仁心大药房（江西·南昌）店员 王敏"),
    DemoStaff("pharmacy", "13600000002", "赵磊", ("百信大药房", "P32010200001", "320000"),
              who="百信大药房（江苏·南京）店员 赵磊"),
    DemoStaff("reviewer", "13600000009", "周婷", who="医保经办审核员 周婷"),
)

_ROLE_LABELS = {"insured": "参保人", "pharmacy": "药店工作人员", "reviewer": "医保经办审核员"}

DEMO_LOGINS: dict = {
    "password": PASSWORD,
    "accounts": [
        (_ROLE_LABELS["insured"], p.phone, p.who)
        for _, members in FAMILIES for p in members if p.login
    ] + [(_ROLE_LABELS[s.role], s.phone, s.who) for s in STAFF],
}


@dataclass
class SeedResult:
    """What one ``seed_demo()`` run created (all zero on a second run)."""

    people: int = 0
    users: int = 0
    pharmacies: int = 0
    created: list[str] = field(default_factory=list)


def years_ago(years: int, days: int = 0, today: date | None = None) -> date:
    """The birth date of someone ``years`` old who had that birthday ``days`` days ago."""
    today = today or clock.today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born - timedelta(days=days)


def _existing_demo_person(p: DemoPerson) -> InsuredPerson | None:
    """The demo person seeded earlier (same name, district and reserved sequence window)."""
    rows = db.session.scalars(
        select(InsuredPerson).where(InsuredPerson.name == p.name,
                                    InsuredPerson.id_number.like(f"{p.district}%"))
    ).all()
    for row in rows:
        if p.seq <= int(row.id_number[14:17]) < p.seq + 40:
            return row
    return None


def _free_number(p: DemoPerson, birth: date) -> str:
    """The person's ID number; the next sequence of the same parity if it is taken."""
    for seq in range(p.seq, p.seq + 40, 2):
        number = make_id_number(p.district, birth, seq)
        if registry.find_person(number) is None:
            return number
    raise RuntimeError(f"no free ID number for demo person {p.name}")


def _ensure_login(person: InsuredPerson, phone: str, result: SeedResult) -> None:
    """A login for the person unless the phone or the person already has one."""
    taken = db.session.scalar(select(User.id).where(
        (User.phone == phone) | (User.person_id == person.id)))
    if taken is not None:
        return
    user = User(phone=phone, role="insured", person_id=person.id)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.flush()
    audit.record("account.register", ACTOR, target=user, person=person,
                 detail={"source": "demo"})
    result.users += 1


def seed_demo() -> SeedResult:
    """Create the demo registry, logins, pharmacies and reviewer; a second run changes nothing."""
    result = SeedResult()
    for _, members in FAMILIES:
        for p in members:
            person = _existing_demo_person(p)
            if person is None:
                number = _free_number(p, p.born or years_ago(p.years, p.days))
                person = registry.add_person(
                    p.name, number, p.phone, insurance_type=p.insurance, status=p.status,
                    balance_fen=p.balance_fen, face_check_fails=p.face_check_fails,
                    actor=ACTOR, commit=False)
                result.people += 1
                result.created.append(f"参保人 {p.name} {number}")
            if p.login and p.phone:
                _ensure_login(person, p.phone, result)
    db.session.commit()
    for s in STAFF:
        if db.session.scalar(select(User.id).filter_by(phone=s.phone)) is not None:
            continue
        if s.pharmacy is None:
            registry.add_reviewer(s.phone, PASSWORD, s.name, ACTOR)
        else:
            name, code, region = s.pharmacy
            pharmacy = db.session.scalar(select(Pharmacy).filter_by(code=code))
            if pharmacy is None:
                registry.add_pharmacy(name, code, region, s.phone, PASSWORD, s.name, ACTOR)
                result.pharmacies += 1
            else:
                registry.add_pharmacy_staff(code, s.phone, PASSWORD, s.name, ACTOR)
        result.users += 1
        result.created.append(f"{_ROLE_LABELS[s.role]} {s.name} {s.phone}")
    return result


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
