"""Accounts: real-name registration against the registry, login, logout.

Registration writes nothing until the face check for purpose ``"register"`` has passed:
``check_registration`` validates the form, the web layer keeps the pending registration in
the session, and ``complete_registration`` re-checks everything, spends the face pass and
creates the account in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import clock
from webapp.accounts import consents, sms_codes, throttle
from webapp.accounts.states import AccountStatus
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError, command
from webapp.extensions import db
from webapp.face import services as face
from webapp.idnumber import IdNumberError, normalise, parse_id_number
from webapp.masking import mask_phone
from webapp.models import InsuredPerson, User

FACE_PURPOSE = "register"
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")

MSG_PHONE_FORMAT = "请输入正确的11位手机号"
MSG_PASSWORD_RULE = "密码至少8位，且须同时包含字母和数字"
# One answer for "not insured" and "name does not match": the registration page must not tell
# an outsider whether an ID number is in the registry.
MSG_NOT_IN_REGISTRY = "姓名与身份证号不匹配或未找到参保信息，请核对后重试"
MSG_NAME_MISMATCH = MSG_NOT_IN_REGISTRY
MSG_PERSON_REGISTERED = "该身份证号已注册，请直接登录"
MSG_PERSON_CLOSED = "该身份证号的账户已注销，暂不能重新注册；如需帮助，请联系参保地医保经办机构"
MSG_ACCOUNT_CLOSED = "该账户已注销，无法登录。如需帮助，请联系参保地医保经办机构"
MSG_PHONE_TAKEN = "该手机号已被注册"
MSG_LOGIN_FAILED = "手机号或密码错误"
MSG_LOGIN_FAILED_CODE = "手机号、密码或验证码错误"
MSG_SECOND_FACTOR = "该手机号登录失败次数较多，为保护账户安全，请获取短信验证码，与密码一起提交"
MSG_TOO_MANY = "登录失败次数过多，请稍后再试"

# Hash checked when the phone is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0")


@dataclass(frozen=True)
class PendingRegistration:
    """What step 1 decided, kept (by the web layer) until the face check passes."""

    phone: str
    password_hash: str
    person_public_id: str
    name: str
    id_number: str
    # kind → version of each document accepted on the form (webapp.accounts.consents).
    consents: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain data for the session."""
        return {
            "phone": self.phone,
            "password_hash": self.password_hash,
            "person": self.person_public_id,
            "name": self.name,
            "id_number": self.id_number,
            "consents": dict(self.consents),
        }

    @classmethod
    def from_dict(cls, data: dict) -> PendingRegistration:
        """Back from the session (KeyError/TypeError when it is not one)."""
        return cls(
            phone=str(data["phone"]),
            password_hash=str(data["password_hash"]),
            person_public_id=str(data["person"]),
            name=str(data["name"]),
            id_number=str(data["id_number"]),
            consents={str(k): str(v) for k, v in dict(data.get("consents") or {}).items()},
        )


def normalise_phone(phone: str | None) -> str:
    """The phone as typed, without spaces or dashes (full-width digits folded)."""
    return normalise(phone).replace("-", "")


def check_phone(phone: str) -> str:
    """A Chinese mobile number (1[3-9] and 9 more digits) or a field error."""
    phone = normalise_phone(phone)
    if not PHONE_RE.match(phone):
        raise DomainError(MSG_PHONE_FORMAT, field="phone", code="phone_format")
    return phone


def check_password_rule(password: str) -> None:
    """At least 8 characters with both letters and digits."""
    password = password or ""
    if (
        len(password) < 8
        or not re.search(r"[A-Za-z]", password)
        or not re.search(r"\d", password)
    ):
        raise DomainError(MSG_PASSWORD_RULE, field="password", code="password_rule")


def user_by_phone(phone: str) -> User | None:
    """The account with this phone, if any."""
    return db.session.scalar(select(User).filter_by(phone=normalise_phone(phone)))


def can_receive_codes(phone: str) -> bool:
    """Whether an SMS code for the phone is really texted: an open (not 已注销) account has it."""
    user = user_by_phone(phone)
    return user is not None and user.status != AccountStatus.CLOSED


def check_registration(phone: str, name: str, id_number: str) -> InsuredPerson:
    """Validate a registration against the registry; return the person or raise a field error.

    Refusals: bad ID number (its reason), not in the registry or name mismatch (one message),
    the person already has an account, the phone is taken. Writes nothing.
    """
    phone = check_phone(phone)
    try:
        info = parse_id_number(id_number, today=clock.today())
    except IdNumberError as err:
        raise DomainError(err.reason, field="id_number", code=f"id_{err.code}") from None
    person = db.session.scalar(select(InsuredPerson).filter_by(id_number=info.number))
    if person is None or "".join((name or "").split()) != person.name:
        raise DomainError(MSG_NOT_IN_REGISTRY, field="id_number", code="not_in_registry")
    status = db.session.scalar(select(User.status).filter_by(person_id=person.id))
    if status == AccountStatus.CLOSED:
        raise DomainError(MSG_PERSON_CLOSED, field="id_number", code="person_closed")
    if status is not None:
        raise DomainError(MSG_PERSON_REGISTERED, field="id_number", code="person_registered")
    if db.session.scalar(select(User.id).filter_by(phone=phone)) is not None:
        raise DomainError(MSG_PHONE_TAKEN, field="phone", code="phone_taken")
    return person


def prepare_registration(
    phone: str, password: str, name: str, id_number: str,
    agree: bool = False, agree_face: bool = False,
) -> tuple[InsuredPerson, PendingRegistration]:
    """Step 1: every check, and the pending registration to keep until the face check.

    ``agree`` ticks the 用户协议 and 隐私政策, ``agree_face`` separately the 人脸信息处理规则;
    without either the registration is refused (a field error on that tick).
    """
    check_password_rule(password)
    versions = consents.required_versions(agree, agree_face)
    person = check_registration(phone, name, id_number)
    pending = PendingRegistration(
        phone=normalise_phone(phone),
        password_hash=generate_password_hash(password),
        person_public_id=person.public_id,
        name=person.name,
        id_number=person.id_number,
        consents=versions,
    )
    return person, pending


def pending_person(pending: PendingRegistration) -> InsuredPerson | None:
    """The registry person a pending registration is for."""
    return db.session.scalar(
        select(InsuredPerson).filter_by(public_id=pending.person_public_id)
    )


@command
def complete_registration(pending: PendingRegistration, actor: Actor) -> User:
    """Create the account once the face check passed: re-check, spend the pass, store the
    consents with their versions, audit, commit (one transaction).

    A concurrent registration of the same phone or person ends as the same field error; a
    document that changed version since the form was filled asks for agreement again.
    """
    consents.check_current(pending.consents)
    person = check_registration(pending.phone, pending.name, pending.id_number)
    if person.public_id != pending.person_public_id:
        raise DomainError(MSG_NOT_IN_REGISTRY, field="id_number", code="not_in_registry")
    face.consume(person, FACE_PURPOSE)
    user = User(
        phone=pending.phone,
        password_hash=pending.password_hash,
        role="insured",
        person_id=person.id,
        last_login_at=clock.now(),
    )
    db.session.add(user)
    try:
        db.session.flush()
        audit.record("account.register", actor, target=user, person=person,
                     label=mask_phone(pending.phone))
        consents.record(user, pending.consents, actor)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if db.session.scalar(select(User.id).filter_by(person_id=person.id)) is not None:
            raise DomainError(MSG_PERSON_REGISTERED, field="id_number",
                              code="person_registered") from None
        raise DomainError(MSG_PHONE_TAKEN, field="phone", code="phone_taken") from None
    return user


@command
def authenticate(phone: str, password: str, actor: Actor, code: str | None = None) -> User:
    """Log in with phone and password; the failure never says which of the two was wrong.

    Failed logins are counted in the database (``throttle``): past the per-address limit the
    address waits (code ``address_limited``); past the per-phone limit the phone's login also
    needs the SMS code sent to it (code ``second_factor`` while none is typed, ``code_needed``
    for a failure from then on), so the owner still gets in while guesses stay refused. Success and failure are audited and committed.
    """
    phone = normalise_phone(phone)
    if throttle.address_blocked(actor.ip):
        raise DomainError(MSG_TOO_MANY, code="address_limited")
    needs_code = throttle.phone_needs_code(phone)
    if needs_code and not (code or "").strip():
        raise DomainError(MSG_SECOND_FACTOR, field="code", code="second_factor")
    user = user_by_phone(phone) if phone else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        ok = False
    else:
        ok = user.check_password(password or "")
    sms_row = sms_codes.match(phone, "login", code) if needs_code else None
    if needs_code and sms_row is not None and not ok:
        sms_codes.miss(sms_row)
    if not ok or (needs_code and sms_row is None):
        throttle.record_failure(phone, actor.ip)
        audit.record("account.login_failed", actor, label=mask_phone(phone),
                     person=user.person if user else None)
        db.session.commit()
        if needs_code or throttle.phone_needs_code(phone):
            raise DomainError(MSG_LOGIN_FAILED_CODE, field="code", code="code_needed")
        raise DomainError(MSG_LOGIN_FAILED, code="login_failed")
    assert user is not None
    if user.status == AccountStatus.CLOSED:
        audit.record("account.login_closed", actor, target=user, person=user.person,
                     label=mask_phone(phone))
        db.session.commit()
        raise DomainError(MSG_ACCOUNT_CLOSED, code="account_closed")
    if sms_row is not None:
        sms_codes.spend(sms_row)
    throttle.clear_phone(phone)
    user.last_login_at = clock.now()
    audit.record("account.login", actor, target=user, person=user.person,
                 label=mask_phone(phone), detail={"second_factor": True} if needs_code else None)
    db.session.commit()
    return user


@command
def send_login_code(phone: str) -> None:
    """Text the login code to the phone typed (only an account's phone really gets one)."""
    phone = check_phone(phone)
    sms_codes.issue(phone, "login", deliver=can_receive_codes(phone))


def logout(user: User, actor: Actor) -> None:
    """Audit the logout (the web layer ends the session)."""
    audit.record("account.logout", actor, target=user, person=user.person,
                 label=mask_phone(user.phone))
    db.session.commit()


def set_elder_mode(user: User, enabled: bool) -> None:
    """Remember 长辈模式 (larger text) on the account; committed."""
    user.elder_mode = enabled
    db.session.commit()
