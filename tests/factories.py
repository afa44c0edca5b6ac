"""Test factories: valid registry people, user accounts, pharmacies."""

from __future__ import annotations

import itertools
from datetime import date

from webapp import clock
from webapp.extensions import db
from webapp.idnumber import make_id_number, parse_id_number
from webapp.models import InsuredPerson, LedgerEntry, PersonalAccount, Pharmacy, User

PASSWORD = "Passw0rd!"
_seq = itertools.count(1)
_phones = itertools.count(13900000001)


def years_ago(years: int, days: int = 0) -> date:
    """A birth date that makes someone ``years`` old today (minus ``days`` days)."""
    from datetime import timedelta

    today = clock.today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born - timedelta(days=days)


def person(
    name: str = "张三",
    birth: date | None = None,
    age: int | None = 35,
    region: str = "360102",
    insurance_type: str = "employee",
    status: str = "active",
    balance_fen: int = 0,
    male: bool = True,
    face_check_fails: bool = False,
    phone: str | None = None,
) -> InsuredPerson:
    """A registry person with a valid, unique ID number (committed)."""
    birth = birth or years_ago(age)
    seq = next(_seq) % 500 * 2 + (1 if male else 0)
    seq = seq if seq < 1000 else seq - 998
    number = make_id_number(region, birth, seq)
    while db.session.query(InsuredPerson.id).filter_by(id_number=number).first():
        seq = (seq + 2) % 1000
        number = make_id_number(region, birth, seq)
    info = parse_id_number(number)
    p = InsuredPerson(
        id_number=number,
        name=name,
        gender=info.gender,
        birth_date=info.birth_date,
        phone=phone or str(next(_phones)),
        region_code=info.province_code,
        insurance_type=insurance_type,
        status=status,
        face_check_fails=face_check_fails,
    )
    db.session.add(p)
    db.session.flush()
    if insurance_type == "employee":
        account = PersonalAccount(person_id=p.id, balance_fen=balance_fen)
        db.session.add(account)
        db.session.flush()
        if balance_fen:
            db.session.add(
                LedgerEntry(account_id=account.id, amount_fen=balance_fen,
                            balance_after_fen=balance_fen, kind="opening", memo="期初余额")
            )
    db.session.commit()
    return p


def user(person_obj: InsuredPerson | None = None, password: str = PASSWORD, **person_kw) -> User:
    """An insured user account for the person (a new person when none is given)."""
    person_obj = person_obj or person(**person_kw)
    u = User(phone=person_obj.phone, role="insured", person_id=person_obj.id)
    u.set_password(password)
    db.session.add(u)
    db.session.commit()
    return u


def pharmacy(name: str = "测试大药房", region: str = "360000") -> Pharmacy:
    """A pharmacy (committed)."""
    ph = Pharmacy(code=f"P{next(_seq):08d}", name=name, region_code=region)
    db.session.add(ph)
    db.session.commit()
    return ph


def staff(role: str = "pharmacy", pharmacy_obj: Pharmacy | None = None,
          password: str = PASSWORD, name: str = "店员小王") -> User:
    """A pharmacy staff or reviewer login (committed)."""
    u = User(phone=str(next(_phones)), role=role, display_name=name)
    if role == "pharmacy":
        u.pharmacy_id = (pharmacy_obj or pharmacy()).id
    u.set_password(password)
    db.session.add(u)
    db.session.commit()
    return u
