"""参保人库 maintenance: the one place that validates and creates registry people, pharmacies
(定点药店) with their staff logins, and reviewers (医保经办审核员).

Used by the operator CLI and the demo seed; the web forms call the same ``validate_*`` checks
so a rule and its Chinese message exist once.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.accounts.services import (
    MSG_PASSWORD_RULE,
    MSG_PHONE_FORMAT,
    MSG_PHONE_TAKEN,
    check_password_rule,
    check_phone,
)
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.idnumber import IdNumberError, normalise, parse_id_number
from webapp.models import (
    INSURANCE_TYPES,
    INSURED_STATUSES,
    InsuredPerson,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    User,
)
from webapp.money import YuanError, parse_yuan
from webapp.regions import is_known_region, province_of
from webapp.registry.states import InsuredStatus

__all__ = [
    "MSG_PASSWORD_RULE",
    "MSG_PHONE_FORMAT",
    "MSG_PHONE_TAKEN",
    "add_person",
    "add_pharmacy",
    "add_pharmacy_staff",
    "add_reviewer",
    "find_person",
    "validate_name",
    "validate_password",
    "validate_phone",
    "yuan_to_fen",
]

MSG_NAME_EMPTY = "请输入姓名"
MSG_NAME_RULE = "姓名应为2–20个汉字，少数民族姓名可含“·”"
MSG_DUPLICATE_ID = "该身份证号已在参保人库中"
MSG_REGION = "参保地应为6位省级行政区划代码，例如 360000"
MSG_INSURANCE_TYPE = "险种应为 职工医保（employee）或 居民医保（resident）"
MSG_STATUS = "参保状态应为 参保中（active）或 暂停（suspended）"
MSG_BALANCE_FORMAT = "余额格式不正确，应为以元为单位、最多两位小数的数字，例如 100.50"
MSG_BALANCE_NEGATIVE = "个人账户余额不能为负数"
MSG_BALANCE_TOO_LARGE = "个人账户余额过大"
MSG_RESIDENT_BALANCE = "居民医保没有个人账户，不能设置余额"
MSG_PHARMACY_NAME = "药店名称应为2–40个字"
MSG_PHARMACY_CODE = "定点机构编码应为1–20位字母或数字"
MSG_PHARMACY_CODE_TAKEN = "该定点机构编码已存在"
MSG_PHARMACY_UNKNOWN = "没有该定点机构编码的药店"

# Han characters (basic block and extension A) and the middle dot of minority names.
_NAME_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+(?:·[\u3400-\u4dbf\u4e00-\u9fff]+)*$")
_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", "．": "·"})
_PHARMACY_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
# A sanity bound for typed balances (1 亿元), far above any real personal account.
MAX_BALANCE_FEN = 100_000_000_00


def validate_name(name: str | None, field: str = "name") -> str:
    """A real name: 2–20 Han characters, '·' allowed between parts; returns it cleaned."""
    text = "".join(str(name or "").split()).translate(_DOTS)
    if not text:
        raise DomainError(MSG_NAME_EMPTY, field=field, code="name_empty")
    if not 2 <= len(text) <= 20 or not _NAME_RE.match(text):
        raise DomainError(MSG_NAME_RULE, field=field, code="name_rule")
    return text


def validate_phone(phone: str | None, field: str = "phone") -> str:
    """A Chinese mobile number (1[3-9] and 9 more digits); returns it normalised."""
    if not str(phone or "").strip():
        raise DomainError("请输入手机号", field=field, code="phone_empty")
    try:
        return check_phone(str(phone))
    except DomainError as err:
        raise DomainError(err.message, field=field, code=err.code) from None


def validate_password(password: str | None, field: str = "password") -> str:
    """At least 8 characters with both letters and digits (密码至少8位，且须同时包含字母和数字)."""
    try:
        check_password_rule(password or "")
    except DomainError as err:
        raise DomainError(err.message, field=field, code=err.code) from None
    return password or ""


def validate_region(code: str | None, field: str = "region") -> str:
    """A real GB/T 2260 code (province, prefecture or county); returns its province code
    ('360102' → '360000'; '123456' is refused)."""
    text = normalise(code)
    if not is_known_region(text):
        raise DomainError(MSG_REGION, field=field, code="region")
    return province_of(text)


def yuan_to_fen(value: str | int | Decimal | None, field: str = "balance") -> int:
    """Yuan as typed ('100', '23.5', '1,234.56', '¥8') to integer fen, exactly (≤ 2 decimals)."""
    try:
        fen = parse_yuan(value, loose=True)
    except YuanError as err:
        if err.code == "negative":
            raise DomainError(MSG_BALANCE_NEGATIVE, field=field, code="balance_negative") from None
        raise DomainError(MSG_BALANCE_FORMAT, field=field, code="balance_format") from None
    if fen >= MAX_BALANCE_FEN:
        raise DomainError(MSG_BALANCE_TOO_LARGE, field=field, code="balance_too_large")
    return fen


def _choice(value: str | None, choices: dict[str, str], message: str, field: str) -> str:
    """The key of a choice given as its key ('employee') or its Chinese label ('职工医保')."""
    text = str(value or "").strip()
    if text.lower() in choices:
        return text.lower()
    for key, label in choices.items():
        if text == label:
            return key
    raise DomainError(message, field=field, code=field)


def find_person(id_number: str | None) -> InsuredPerson | None:
    """The registry person with this ID number (None when unknown; 'x' and spaces forgiven)."""
    number = normalise(id_number)
    if not number:
        return None
    return db.session.scalar(select(InsuredPerson).filter_by(id_number=number))


def add_person(
    name: str,
    id_number: str,
    phone: str | None,
    region_code: str | None = None,
    insurance_type: str = "employee",
    status: str = InsuredStatus.ACTIVE,
    balance_fen: int = 0,
    card_activated: bool = True,
    face_check_fails: bool = False,
    actor: Actor = audit.SYSTEM,
    commit: bool = True,
) -> InsuredPerson:
    """Add one person to the registry (gender and birth date from the ID number).

    Employee (职工医保) people get a personal account; a non-zero opening balance writes one
    ``opening`` ledger row. Every bad input raises DomainError on its field and writes nothing.
    ``phone`` may be None (young children); ``region_code`` defaults to the ID's province.
    """
    name = validate_name(name)
    try:
        info = parse_id_number(id_number, today=clock.today())
    except IdNumberError as err:
        raise DomainError(err.reason, field="id_number", code=f"id_{err.code}") from None
    phone = validate_phone(phone) if str(phone or "").strip() else None
    region = validate_region(region_code) if region_code else info.province_code
    kind = _choice(insurance_type, INSURANCE_TYPES, MSG_INSURANCE_TYPE, "insurance_type")
    state = _choice(status, INSURED_STATUSES, MSG_STATUS, "status")
    if isinstance(balance_fen, bool) or not isinstance(balance_fen, int):
        raise DomainError(MSG_BALANCE_FORMAT, field="balance", code="balance_format")
    if balance_fen < 0:
        raise DomainError(MSG_BALANCE_NEGATIVE, field="balance", code="balance_negative")
    if balance_fen >= MAX_BALANCE_FEN:
        raise DomainError(MSG_BALANCE_TOO_LARGE, field="balance", code="balance_too_large")
    if kind == "resident" and balance_fen:
        raise DomainError(MSG_RESIDENT_BALANCE, field="balance", code="resident_balance")
    if find_person(info.number) is not None:
        raise DomainError(MSG_DUPLICATE_ID, field="id_number", code="duplicate_id")

    person = InsuredPerson(
        id_number=info.number,
        name=name,
        gender=info.gender,
        birth_date=info.birth_date,
        phone=phone,
        region_code=region,
        insurance_type=kind,
        status=state,
        card_activated=bool(card_activated),
        face_check_fails=bool(face_check_fails),
    )
    db.session.add(person)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent add of the same ID number won the race
        db.session.rollback()
        raise DomainError(MSG_DUPLICATE_ID, field="id_number", code="duplicate_id") from None
    if kind == "employee":
        account = PersonalAccount(person_id=person.id, balance_fen=balance_fen)
        db.session.add(account)
        db.session.flush()
        if balance_fen:
            db.session.add(LedgerEntry(account_id=account.id, amount_fen=balance_fen,
                                       balance_after_fen=balance_fen, kind="opening",
                                       memo="期初余额"))
    audit.record("registry.add", actor, target=person, person=person,
                 detail={"insurance_type": kind, "status": state, "region": region,
                         "balance_fen": balance_fen})
    if commit:
        db.session.commit()
    return person


def _check_phone_free(phone: str, field: str) -> None:
    """Refuse a phone that already logs in to an account."""
    if db.session.scalar(select(User.id).filter_by(phone=phone)) is not None:
        raise DomainError(MSG_PHONE_TAKEN, field=field, code="phone_taken")


def _new_staff(role: str, phone: str, password: str, name: str, fields: tuple[str, str, str],
               pharmacy: Pharmacy | None, actor: Actor) -> User:
    """Validate and add a staff login (not committed)."""
    phone_field, password_field, name_field = fields
    phone = validate_phone(phone, field=phone_field)
    validate_password(password, field=password_field)
    name = validate_name(name, field=name_field)
    _check_phone_free(phone, phone_field)
    user = User(phone=phone, role=role, display_name=name,
                pharmacy_id=pharmacy.id if pharmacy else None)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("staff.add", actor, target=user,
                 detail={"role": role, "pharmacy": pharmacy.code if pharmacy else ""})
    return user


def _commit_or_phone_taken(field: str) -> None:
    """Commit; a concurrent registration of the same phone becomes the field error."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(MSG_PHONE_TAKEN, field=field, code="phone_taken") from None


def add_pharmacy(
    name: str,
    code: str,
    region_code: str,
    staff_phone: str,
    staff_password: str,
    staff_name: str,
    actor: Actor = audit.SYSTEM,
) -> tuple[Pharmacy, User]:
    """Add a 定点药店 (region stored as its province) and its first staff login."""
    clean_name = " ".join(str(name or "").split())
    if not 2 <= len(clean_name) <= 40:
        raise DomainError(MSG_PHARMACY_NAME, field="name", code="pharmacy_name")
    clean_code = str(code or "").strip().upper()
    if not _PHARMACY_CODE_RE.match(clean_code):
        raise DomainError(MSG_PHARMACY_CODE, field="code", code="pharmacy_code")
    region = validate_region(region_code)
    if db.session.scalar(select(Pharmacy.id).filter_by(code=clean_code)) is not None:
        raise DomainError(MSG_PHARMACY_CODE_TAKEN, field="code", code="pharmacy_code_taken")
    validate_phone(staff_phone, field="staff_phone")
    validate_password(staff_password, field="staff_password")
    validate_name(staff_name, field="staff_name")
    pharmacy = Pharmacy(code=clean_code, name=clean_name, region_code=region)
    db.session.add(pharmacy)
    db.session.flush()
    audit.record("pharmacy.add", actor, target=pharmacy,
                 detail={"code": clean_code, "region": region, "name": clean_name})
    try:
        user = _new_staff("pharmacy", staff_phone, staff_password, staff_name,
                          ("staff_phone", "staff_password", "staff_name"), pharmacy, actor)
    except DomainError:
        db.session.rollback()
        raise
    _commit_or_phone_taken("staff_phone")
    return pharmacy, user


def add_pharmacy_staff(pharmacy_code: str, phone: str, password: str, name: str,
                       actor: Actor = audit.SYSTEM) -> User:
    """Add another staff login to an existing pharmacy."""
    pharmacy = db.session.scalar(
        select(Pharmacy).filter_by(code=str(pharmacy_code or "").strip().upper()))
    if pharmacy is None:
        raise DomainError(MSG_PHARMACY_UNKNOWN, field="code", code="pharmacy_unknown")
    user = _new_staff("pharmacy", phone, password, name, ("phone", "password", "name"),
                      pharmacy, actor)
    _commit_or_phone_taken("phone")
    return user


def add_reviewer(phone: str, password: str, name: str, actor: Actor = audit.SYSTEM) -> User:
    """Add a 医保经办审核员 login."""
    user = _new_staff("reviewer", phone, password, name, ("phone", "password", "name"),
                      None, actor)
    _commit_or_phone_taken("phone")
    return user

