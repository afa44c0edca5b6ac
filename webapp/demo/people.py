"""The demo registry: three families (江西, 江苏, 海南), two pharmacies, a reviewer, and the
logins ``flask init-demo`` prints. Everything goes through ``webapp.registry.services``; birth
dates are computed from ``clock.today()`` so the ages stay right whenever the demo is seeded.
``seed_people()`` is idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from webapp import clock
from webapp.accounts import consents, documents
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.idnumber import make_id_number
from webapp.models import InsuredPerson, Pharmacy, User
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
                   login=True, who="江西 张建国，职工医保（一家之主：已绑定3名家人，开通了家庭共济）",
                   born=date(1988, 3, 15)),  # 360102198803151117, quoted in README.md
        DemoPerson("李秀英", NANCHANG, 112, 36, 140, "employee", 120_000, phone="13800000002",
                   who="妻子，未注册账号（可演示注册）"),
        DemoPerson("张子豪", NANCHANG, 113, 16, 120, phone="13800000003", login=True,
                   who="江西 张子豪，16周岁，居民医保（有一条待本人确认的绑定邀请）"),
        DemoPerson("张小明", NANCHANG, 115, 8, 30, who="儿子，8周岁"),
        DemoPerson("张小红", NANCHANG, 114, 5, 200, who="女儿，5周岁"),
        DemoPerson("张德胜", NANCHANG, 117, 66, 50, phone="13800000004", login=True,
                   who="江西 张德胜，66周岁，居民医保（张建国的父亲，已确认绑定、已加入共济）"),
        DemoPerson("王桂兰", NANCHANG, 116, 64, 300, "employee", 368_000, phone="13800000005",
                   who="母亲，退休职工，未注册账号"),
    )),
    ("江苏·南京 陈家", (
        DemoPerson("陈志强", NANJING, 211, 42, 95, "employee", 128_050, phone="13800000011",
                   login=True, who="江苏 陈志强，职工医保（材料需审核：一个待审核、一个未通过）"),
        DemoPerson("刘芳", NANJING, 212, 40, 180, "employee", 0, phone="13800000012",
                   login=True, who="江苏 刘芳，职工医保，个人账户余额为 0（共济无法支付）"),
        DemoPerson("陈浩然", NANJING, 213, 17, 10, phone="13800000013",
                   who="儿子，17周岁，未注册账号（可演示接受邀请时注册）"),
        DemoPerson("陈思涵", NANJING, 214, 10, 66, who="女儿，10周岁"),
        DemoPerson("陈思远", NANJING, 217, 4, 120, who="儿子，4周岁（绑定审核未通过，可重新提交）"),
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
    # As at registration: 用户协议, 隐私政策 and the separate face-data consent, versioned.
    consents.record(user, documents.current_versions(), ACTOR)
    result.users += 1


def seed_people(today: date | None = None) -> SeedResult:
    """Create the demo registry, logins, pharmacies and reviewer; a second run changes nothing.

    Ages are counted on ``today`` (default: the clock's), so the people may be created under a
    clock set earlier and still have their ages on the day the demo is used.
    """
    today = today or clock.today()
    result = SeedResult()
    for _, members in FAMILIES:
        for p in members:
            person = _existing_demo_person(p)
            if person is None:
                number = _free_number(p, p.born or years_ago(p.years, p.days, today))
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
