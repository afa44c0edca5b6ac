"""Seeding the bench database: the demo data, a bench family, a pharmacy with an API key,
background rows (registry people, bindings, codes) and a pool of live codes for verify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import inspect

from webapp import clock
from webapp.extensions import db
from webapp.idnumber import make_id_number, parse_id_number
from webapp.models import (
    InsuredPerson,
    KinshipBinding,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    User,
)

PASSWORD = "Bench-Passw0rd!"
PHONE = "13700000001"
REGION = "360102"


@dataclass
class Seeded:
    phone: str
    password: str
    api_key: str
    demo: str  # what the demo seed did


def create_schema(reset: bool) -> None:
    """Schema through the migrations when there are any (else create_all)."""
    if reset:
        db.drop_all()
        with db.engine.begin() as conn:  # else the migrations think the schema is there
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    if inspect(db.engine).has_table("user_account"):
        raise SystemExit("bench: the database is not empty (pass --reset to wipe it)")
    from webapp.cli.demo import create_schema as app_create_schema

    app_create_schema()
    if not inspect(db.engine).has_table("api_key"):  # migrations that predate the API
        db.create_all()


def _person(name: str, birth: date, seq: int, balance_fen: int = 0,
            insurance_type: str = "employee", phone: str | None = None) -> InsuredPerson:
    number = make_id_number(REGION, birth, seq % 1000)
    info = parse_id_number(number)
    person = InsuredPerson(id_number=number, name=name, gender=info.gender,
                           birth_date=info.birth_date, phone=phone,
                           region_code=info.province_code, insurance_type=insurance_type,
                           status="active")
    db.session.add(person)
    db.session.flush()
    if insurance_type == "employee":
        account = PersonalAccount(person_id=person.id, balance_fen=balance_fen)
        db.session.add(account)
        db.session.flush()
        if balance_fen:
            db.session.add(LedgerEntry(account_id=account.id, amount_fen=balance_fen,
                                       balance_after_fen=balance_fen, kind="opening",
                                       memo="期初余额"))
    return person


def seed(people: int = 2000, log=print) -> Seeded:
    """Demo data (when webapp.demo exists), a bench family, a pharmacy + key, background rows."""
    try:
        from webapp.demo import seed_demo
    except ImportError:
        demo = "webapp.demo not present: demo seed skipped"
    else:
        seed_demo()
        demo = "webapp.demo.seed_demo() loaded"

    mother = _person("李红", date(1987, 3, 14), 402, balance_fen=50_000_00, phone=PHONE)
    user = User(phone=PHONE, role="insured", person_id=mother.id)
    user.set_password(PASSWORD)
    db.session.add(user)
    now = clock.now()
    for i, (name, year) in enumerate((("张小明", 2016), ("张小红", 2019))):
        child = _person(name, date(year, 5, 1 + i), 101 + i * 2, balance_fen=2000)
        db.session.add(KinshipBinding(holder_person_id=mother.id, member_person_id=child.id,
                                      relation="child", status="active",
                                      region_code=mother.region_code, bound_at=now))
    pharmacy = Pharmacy(code="BENCH0001", name="压测大药房", region_code="360000")
    db.session.add(pharmacy)
    db.session.commit()
    # Background at any scale: registry people with accounts, users, bindings, 共济 groups,
    # expired codes, settlements and msgid records in proportion (bench/scale.py).
    import scale

    scale.populate(people, pharmacy.id, log=log)
    from webapp.api.keys import create_key
    from webapp.audit.services import Actor

    _, raw = create_key(pharmacy.code, "bench", Actor(label="bench"))
    return Seeded(PHONE, PASSWORD, raw, demo)


def existing() -> Seeded:
    """The bench logins of a database seeded before (a fresh API key: keys are stored hashed)."""
    from webapp.api.keys import create_key
    from webapp.audit.services import Actor

    _, raw = create_key(pharmacy().code, "bench", Actor(label="bench"))
    return Seeded(PHONE, PASSWORD, raw, "seeded before (template clone)")


def live_codes(count: int) -> list[str]:
    """Fresh codes of the bench user and the children (valid for the policy's 90 s)."""
    from webapp.audit.services import Actor
    from webapp.codes import services as codes

    user = db.session.scalar(db.select(User).filter_by(phone=PHONE))
    keys = [codes.ME] + [b.public_id for b in db.session.scalars(
        db.select(KinshipBinding).filter_by(holder_person_id=user.person_id)).all()]
    actor = Actor(user=user, label="bench")
    return [codes.issue_code(user, keys[i % len(keys)], actor).code for i in range(count)]


class Msgids:
    """Distinct msgids of one pharmacy for one run: prefix + China time + 4-digit sequence.

    The time starts now and steps a second every 10 000 ids, so no two ids of the run (the
    seeded settlements' and the load's) meet, whatever the rate.
    """

    def __init__(self, pharmacy: Pharmacy):
        from webapp.codes.msgids import prefix_of

        self.prefix = prefix_of(pharmacy)
        self.start = clock.to_china(clock.now()).replace(microsecond=0)
        self.count = 0

    def __call__(self) -> str:
        n, self.count = self.count, self.count + 1
        at = self.start + timedelta(seconds=n // 10000)
        return f"{self.prefix}{at:%Y%m%d%H%M%S}{n % 10000:04d}"


def pharmacy() -> Pharmacy:
    return db.session.scalar(db.select(Pharmacy).filter_by(code="BENCH0001"))


def family_tokens(count: int, per_family: int = 3) -> list[str]:
    """Settlement tokens of many families: the scale seed's registered insured users whose
    own account covers ``per_family`` bench purchases, ``per_family`` fresh codes each (as
    pharmacies settle for many people at once; ``settlement_tokens`` loads one family, whose
    account every settlement must lock in turn)."""
    from webapp.audit.services import Actor
    from webapp.codes import services as codes
    from webapp.codes import settlement

    users = db.session.scalars(
        db.select(User).join(InsuredPerson, InsuredPerson.id == User.person_id)
        .join(PersonalAccount, PersonalAccount.person_id == InsuredPerson.id)
        .where(User.role == "insured", User.phone != PHONE,
               PersonalAccount.balance_fen >= SETTLE_FEN * per_family)
        .order_by(User.id).limit(-(-count // per_family))).all()
    shop = pharmacy()
    actor = Actor(label="bench-pos")
    tokens = []
    for _ in range(per_family):
        for user in users:
            code = codes.issue_code(user, codes.ME, Actor(user=user, label="bench")).code
            tokens.append(settlement.verify(code, shop, actor).token)
    return tokens[:count]


def settlement_tokens(count: int) -> list[str]:
    """Settlement tokens of fresh codes, each verified once by the bench pharmacy (live 300 s)."""
    from webapp.audit.services import Actor
    from webapp.codes import settlement

    shop = pharmacy()
    actor = Actor(label="bench-pos")
    return [settlement.verify(code, shop, actor).token for code in live_codes(count)]


SETTLE_FEN = 500  # ¥5.00: 李红's ¥50 000 covers thousands; the children's ¥20 runs into aid/cash
SETTLE_ITEMS = [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": SETTLE_FEN}]


def settled(count: int, msgid: Msgids) -> list[str]:
    """Public ids of fresh settled settlements of the bench pharmacy (through the services)."""
    from webapp.api import schemas
    from webapp.audit.services import Actor
    from webapp.blueprints.api.routes import items_text
    from webapp.codes import settlement

    shop = pharmacy()
    actor = Actor(label="bench-pos")
    items = items_text([schemas.Item(**i) for i in SETTLE_ITEMS])
    return [settlement.settle(token, shop, actor, SETTLE_FEN, items, msgid=msgid()).public_id
            for token in settlement_tokens(count)]
