"""The demo seed (idempotent, the kinds of people a demo needs, working logins) and the bulk
synthetic registry."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from webapp import clock
from webapp.demo import (
    DEMO_LOGINS,
    FAMILIES,
    add_synthetic_people,
    seed_demo,
    synthetic_identity,
)
from webapp.extensions import db
from webapp.idnumber import make_id_number, parse_id_number
from webapp.models import (
    AuditLog,
    InsuredPerson,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    User,
)
from webapp.registry.services import add_person

TABLES = (InsuredPerson, PersonalAccount, LedgerEntry, User, Pharmacy, AuditLog)


def counts() -> tuple[int, ...]:
    """Rows of every table the seed writes."""
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in TABLES)


def demo_people() -> list[InsuredPerson]:
    """The seeded registry (no synthetic people in these tests)."""
    return db.session.scalars(select(InsuredPerson).order_by(InsuredPerson.id)).all()


def has_login(person: InsuredPerson) -> bool:
    """Whether the person has an account."""
    return db.session.scalar(select(User.id).filter_by(person_id=person.id)) is not None


def test_seed_twice_changes_nothing(app):
    first = seed_demo()
    assert first.people == sum(len(members) for _, members in FAMILIES)
    after_first = counts()
    second = seed_demo()
    assert (second.people, second.users, second.pharmacies, second.created) == (0, 0, 0, [])
    assert counts() == after_first


def test_seed_demo_command_is_idempotent_and_prints_the_logins(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "演示账号（密码均为 Demo1234）" in first.output and "13800000001" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "演示数据已存在，未作改动" in second.output


def test_the_kinds_of_people_a_demo_needs_exist(app):
    seed_demo()
    today = clock.today()
    people = demo_people()
    ages = {p.name: p.age_on(today) for p in people}
    under_16 = [p for p in people if ages[p.name] < 16]
    teens = [p for p in people if 16 <= ages[p.name] <= 17]
    elders = [p for p in people if ages[p.name] >= 60]
    assert len(under_16) >= 3
    assert teens and any(has_login(p) for p in teens) and not all(has_login(p) for p in teens)
    assert any(has_login(p) for p in elders)
    assert any(p.insurance_type == "resident" for p in elders)
    flagged = [p for p in people if p.face_check_fails]
    assert len(flagged) == 1 and has_login(flagged[0])
    assert any(p.insurance_type == "employee" and p.balance_fen == 0 for p in people)
    assert any(p.status == "suspended" for p in people)
    assert any(not has_login(p) and p.phone for p in people)  # can demonstrate registration
    for province in ("360000", "320000", "460000"):
        family = [p for p in people if p.region_code == province]
        assert any(p.insurance_type == "employee" and p.balance_fen > 0 and has_login(p)
                   for p in family)
        assert any(ages[p.name] < 16 for p in family)
        assert any(16 <= ages[p.name] <= 17 for p in family)
        assert any(ages[p.name] >= 60 for p in family)
    for p in people:  # gender and birth date come from the ID number
        info = parse_id_number(p.id_number)
        assert (p.gender, p.birth_date) == (info.gender, info.birth_date)


@pytest.mark.parametrize("moment", [datetime(2031, 2, 28, 20), datetime(2044, 7, 1, 3)])
def test_ages_are_relative_to_the_clock(app, moment):
    with clock.frozen_at(moment):
        seed_demo()
        today = clock.today()
        people = {p.name: p.age_on(today) for p in demo_people()}
    assert 16 <= people["张子豪"] <= 17 and 16 <= people["陈浩然"] <= 17
    assert people["张小明"] == 8 and people["张德胜"] == 66


def test_flagged_person_is_named_in_the_printed_logins(app):
    seed_demo()
    flagged = db.session.scalar(select(InsuredPerson).filter_by(face_check_fails=True))
    line = next(who for _, phone, who in DEMO_LOGINS["accounts"] if phone == flagged.phone)
    assert "人脸核验总是失败" in line


def test_demo_logins_work(app):
    seed_demo()
    assert DEMO_LOGINS["password"] == "Demo1234"
    roles = set()
    for label, phone, who in DEMO_LOGINS["accounts"]:
        user = db.session.scalar(select(User).filter_by(phone=phone))
        assert user is not None, phone
        assert user.check_password("Demo1234"), phone
        assert user.role_label == label and who
        roles.add(user.role)
    assert roles == {"insured", "pharmacy", "reviewer"}
    shops = {p.name: p.region_code for p in db.session.scalars(select(Pharmacy))}
    assert shops["仁心大药房"] == "360000" and "320000" in shops.values()
    staff = db.session.scalar(select(User).where(User.role == "pharmacy",
                                                 User.pharmacy.has(name="仁心大药房")))
    assert staff is not None


def test_a_demo_login_logs_in_through_the_form(app, client, auth):
    seed_demo()
    response = auth.login(DEMO_LOGINS["accounts"][0][1], DEMO_LOGINS["password"])
    assert response.status_code == 302


def test_bulk_people_are_valid_and_unique(runner):
    result = runner.invoke(args=["seed-demo", "--people", "2000"])
    assert result.exit_code == 0, result.output
    assert "已批量生成合成参保人 2000 名" in result.output and "秒" in result.output
    synthetic = db.session.scalars(
        select(InsuredPerson).where(InsuredPerson.phone.like("199%"))).all()
    assert len(synthetic) == 2000
    today = clock.today()
    for p in synthetic:
        info = parse_id_number(p.id_number, today=today)
        assert (p.gender, p.birth_date, p.region_code) == (
            info.gender, info.birth_date, info.province_code)
        assert 900 <= info.sequence <= 999
        assert 2 <= len(p.name) <= 4
        assert (p.account is not None) == (p.insurance_type == "employee")
    assert len({p.id_number for p in synthetic}) == 2000
    assert len({p.phone for p in synthetic}) == 2000
    assert len({p.region_code for p in synthetic}) == 31
    assert {p.gender for p in synthetic} == {"男", "女"}
    opening = db.session.execute(
        select(LedgerEntry.amount_fen, PersonalAccount.balance_fen)
        .join(PersonalAccount).where(LedgerEntry.kind == "opening")).all()
    funded = db.session.scalar(select(func.count()).select_from(PersonalAccount)
                               .where(PersonalAccount.balance_fen > 0))
    assert len(opening) == funded and all(a == b for a, b in opening)


def test_bulk_runs_add_new_people_and_skip_taken_numbers(app):
    district, birth, seq = synthetic_identity(0, clock.today())
    taken = make_id_number(district, birth, seq)
    add_person("占位人", taken, None, insurance_type="resident")
    assert add_synthetic_people(300) == 300
    assert add_synthetic_people(200) == 200
    numbers = db.session.scalars(select(InsuredPerson.id_number)).all()
    phones = db.session.scalars(
        select(InsuredPerson.phone).where(InsuredPerson.phone.is_not(None))).all()
    assert len(numbers) == len(set(numbers)) == 501
    assert len(phones) == len(set(phones)) == 500
    assert db.session.scalar(select(AuditLog.detail).filter_by(action="registry.bulk_add"))
