"""The registry service: people, pharmacies and staff are validated once, in one place."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.idnumber import check_char, make_id_number
from webapp.models import AuditLog, InsuredPerson, LedgerEntry, PersonalAccount, Pharmacy, User
from webapp.registry import services as registry

ACTOR = Actor(label="test")
ID_1990 = make_id_number("360102", date(1990, 1, 1), 123)  # male, 江西
ID_1985F = make_id_number("320102", date(1985, 6, 15), 222)  # female, 江苏


def counts() -> tuple[int, ...]:
    """Rows of every table the registry service writes."""
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (InsuredPerson, PersonalAccount, LedgerEntry, AuditLog, Pharmacy, User))


def add(**kw) -> InsuredPerson:
    """add_person with sensible defaults overridden by kw."""
    args = dict(name="张三", id_number=ID_1990, phone="13812345678", insurance_type="employee",
                actor=ACTOR)
    args.update(kw)
    return registry.add_person(**args)


def test_employee_with_opening_balance_gets_account_and_one_ledger_row(app):
    person = add(balance_fen=12_345)
    assert (person.gender, person.birth_date) == ("男", date(1990, 1, 1))
    assert person.region_code == "360000" and person.status == "active"
    assert person.card_activated and not person.face_check_fails
    assert person.account.balance_fen == 12_345
    entries = db.session.scalars(select(LedgerEntry)).all()
    assert [(e.kind, e.amount_fen, e.balance_after_fen, e.memo) for e in entries] == [
        ("opening", 12_345, 12_345, "期初余额")]
    assert entries[0].account_id == person.account.id
    log = db.session.scalar(select(AuditLog).filter_by(action="registry.add"))
    assert log.subject_person_id == person.id and log.actor_label == "test"
    assert log.target_id == person.public_id


def test_employee_with_zero_balance_has_account_but_no_ledger_row(app):
    person = add(balance_fen=0)
    assert person.account is not None and person.account.balance_fen == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_resident_has_no_personal_account(app):
    person = add(insurance_type="居民医保", status="暂停", id_number=ID_1985F, name="李芳")
    assert (person.insurance_type, person.status, person.gender) == ("resident", "suspended", "女")
    assert person.account is None


def test_region_defaults_to_id_province_and_may_differ(app):
    assert add().region_code == "360000"
    other = add(id_number=ID_1985F, name="李芳", region_code="460105")
    assert other.region_code == "460000"  # a district code is stored as its province


def test_id_number_is_normalised_and_children_may_have_no_phone(app):
    number = next(n for seq in range(100, 200)
                  if (n := make_id_number("460105", date(2018, 3, 1), seq)).endswith("X"))
    person = add(id_number=f" {number.lower()} ", phone=None, insurance_type="resident")
    assert person.id_number == number and person.phone is None
    assert registry.find_person(number.lower()) == person


def test_minority_name_with_middle_dot_is_accepted(app):
    assert add(name="买买提 • 艾力").name == "买买提·艾力"


def _unknown_region_id() -> str:
    first17 = "990101199001011" + "23"
    return first17 + check_char(first17)


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"name": ""}, "name", "请输入姓名"),
        ({"name": "Zhang San"}, "name", "姓名应为2–20个汉字，少数民族姓名可含“·”"),
        ({"name": "张"}, "name", "姓名应为2–20个汉字，少数民族姓名可含“·”"),
        ({"name": "张" * 21}, "name", "姓名应为2–20个汉字，少数民族姓名可含“·”"),
        ({"name": "·张三"}, "name", "姓名应为2–20个汉字，少数民族姓名可含“·”"),
        ({"id_number": "36010219900101"}, "id_number", "身份证号应为18位"),
        ({"id_number": ID_1990[:17] + ("0" if ID_1990[17] != "0" else "1")}, "id_number",
         "身份证号校验位错误，请核对"),
        ({"id_number": _unknown_region_id()}, "id_number", "身份证号前6位地区码无效"),
        ({"id_number": make_id_number("360102", date(2999, 1, 1), 11)}, "id_number",
         "出生日期不能晚于今天"),
        ({"phone": "12812345678"}, "phone", "请输入正确的11位手机号"),
        ({"phone": "1381234567"}, "phone", "请输入正确的11位手机号"),
        ({"region_code": "999999"}, "region", "参保地应为6位省级行政区划代码，例如 360000"),
        ({"region_code": "36"}, "region", "参保地应为6位省级行政区划代码，例如 360000"),
        ({"insurance_type": "gold"}, "insurance_type",
         "险种应为 职工医保（employee）或 居民医保（resident）"),
        ({"status": "dead"}, "status", "参保状态应为 参保中（active）或 暂停（suspended）"),
        ({"balance_fen": -1}, "balance", "个人账户余额不能为负数"),
        ({"balance_fen": 1.5}, "balance",
         "余额格式不正确，应为以元为单位、最多两位小数的数字，例如 100.50"),
        ({"insurance_type": "resident", "balance_fen": 100}, "balance",
         "居民医保没有个人账户，不能设置余额"),
    ],
)
def test_bad_input_is_refused_with_its_message_and_nothing_written(app, kw, field, message):
    before = counts()
    with pytest.raises(DomainError) as caught:
        add(**kw)
    assert (caught.value.field, caught.value.message) == (field, message)
    db.session.rollback()
    assert counts() == before


def test_duplicate_id_number_is_refused_and_nothing_written(app):
    add(balance_fen=100)
    before = counts()
    with pytest.raises(DomainError, match="该身份证号已在参保人库中") as caught:
        add(name="李四", phone="13912345678", id_number=ID_1990.lower())
    assert caught.value.field == "id_number"
    assert counts() == before


def test_find_person_returns_none_when_unknown_or_malformed(app):
    assert registry.find_person(ID_1990) is None
    assert registry.find_person("") is None and registry.find_person("not an id") is None
    person = add()
    assert registry.find_person(ID_1990) == person


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("100", 10_000), ("23.5", 2_350), ("0.01", 1), ("0.29", 29), ("1,234.56", 123_456),
     ("¥8", 800), ("1e2", 10_000), ("0", 0)],
)
def test_yuan_to_fen_is_exact(typed, fen):
    assert registry.yuan_to_fen(typed) == fen


@pytest.mark.parametrize(
    ("typed", "message"),
    [("1.005", "余额格式不正确"), ("abc", "余额格式不正确"), ("NaN", "余额格式不正确"),
     ("Infinity", "余额格式不正确"), ("-1", "个人账户余额不能为负数"),
     ("100000000", "个人账户余额过大")],
)
def test_yuan_to_fen_refuses_bad_amounts(typed, message):
    with pytest.raises(DomainError, match=message):
        registry.yuan_to_fen(typed)


@pytest.mark.parametrize("password", ["short1", "abcdefgh", "12345678", "", None])
def test_password_rule(password):
    with pytest.raises(DomainError, match="密码至少8位，且须同时包含字母和数字"):
        registry.validate_password(password, field="staff_password")


def test_password_and_phone_rules_accept_good_values():
    assert registry.validate_password("Demo1234") == "Demo1234"
    assert registry.validate_phone(" 138-1234-5678 ") == "13812345678"
    with pytest.raises(DomainError, match="请输入手机号"):
        registry.validate_phone("")


def test_add_pharmacy_creates_pharmacy_staff_and_audit(app):
    shop, user = registry.add_pharmacy("仁心大药房", "p36010200001", "360102", "13600000001",
                                       "Demo1234", "王敏", ACTOR)
    assert (shop.name, shop.code, shop.region_code) == ("仁心大药房", "P36010200001", "360000")
    assert (user.role, user.pharmacy_id, user.display_name) == ("pharmacy", shop.id, "王敏")
    assert user.check_password("Demo1234") and not user.check_password("Demo12345")
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["pharmacy.add", "staff.add"]


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"name": "药"}, "name", "药店名称应为2–40个字"),
        ({"code": "P-1"}, "code", "定点机构编码应为1–20位字母或数字"),
        ({"code": "P1"}, "code", "该定点机构编码已存在"),
        ({"region_code": "990000"}, "region", "参保地应为6位省级行政区划代码，例如 360000"),
        ({"staff_phone": "110"}, "staff_phone", "请输入正确的11位手机号"),
        ({"staff_phone": "13600000001"}, "staff_phone", "该手机号已被注册"),
        ({"staff_password": "password"}, "staff_password", "密码至少8位，且须同时包含字母和数字"),
        ({"staff_name": "Wang"}, "staff_name", "姓名应为2–20个汉字，少数民族姓名可含“·”"),
    ],
)
def test_add_pharmacy_refusals_write_nothing(app, kw, field, message):
    registry.add_pharmacy("第一药房", "P1", "360000", "13600000001", "Demo1234", "王敏", ACTOR)
    before = counts()
    args = dict(name="第二药房", code="P2", region_code="320000", staff_phone="13600000002",
                staff_password="Demo1234", staff_name="赵磊", actor=ACTOR)
    args.update(kw)
    with pytest.raises(DomainError) as caught:
        registry.add_pharmacy(**args)
    assert (caught.value.field, caught.value.message) == (field, message)
    db.session.rollback()
    assert counts() == before


def test_add_reviewer_and_phone_taken_by_an_insured_user(app, factory):
    reviewer = registry.add_reviewer("13600000009", "Demo1234", "周婷", ACTOR)
    assert (reviewer.role, reviewer.pharmacy_id, reviewer.name) == ("reviewer", None, "周婷")
    insured = factory.user()
    before = counts()
    with pytest.raises(DomainError, match="该手机号已被注册") as caught:
        registry.add_reviewer(insured.phone, "Demo1234", "孙审", ACTOR)
    assert caught.value.field == "phone"
    assert counts() == before


def test_add_pharmacy_staff_needs_a_known_pharmacy(app):
    with pytest.raises(DomainError, match="没有该定点机构编码的药店"):
        registry.add_pharmacy_staff("NOPE", "13600000003", "Demo1234", "钱多", ACTOR)
    shop, _ = registry.add_pharmacy("第一药房", "P1", "360000", "13600000001", "Demo1234",
                                    "王敏", ACTOR)
    second = registry.add_pharmacy_staff("p1", "13600000003", "Demo1234", "钱多", ACTOR)
    assert second.pharmacy_id == shop.id and second.role == "pharmacy"
