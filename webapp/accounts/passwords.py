"""忘记密码 and 修改密码 with an SMS code; both end the account's other sessions."""

from __future__ import annotations

from webapp.accounts import sms_codes, throttle
from webapp.accounts.models import User
from webapp.accounts.services import (
    can_receive_codes,
    check_password_rule,
    check_phone,
    normalise_phone,
    user_by_phone,
)
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError, command
from webapp.extensions import db
from webapp.masking import mask_phone
from webapp.sessions import end_user_sessions


@command
def send_reset_code(phone: str) -> None:
    """忘记密码: a code for the phone typed; texted only when an account has that phone."""
    phone = check_phone(phone)
    sms_codes.issue(phone, "reset_password", deliver=can_receive_codes(phone))


@command
def send_change_code(user: User) -> None:
    """修改密码: a code texted to the account's own phone."""
    sms_codes.issue(user.phone, "change_password", deliver=True)


def _wrong_code() -> DomainError:
    return DomainError(sms_codes.MSG_CODE_WRONG, field="code", code="code_wrong")


def reset_password(phone: str, code: str, password: str, actor: Actor) -> User:
    """Set a new password with the code texted to the phone; every session of the account ends.

    A wrong code (or a phone without an account: the same answer) spends an attempt.
    """
    check_password_rule(password)
    phone = normalise_phone(phone)
    row = sms_codes.match(phone, "reset_password", code)
    user = user_by_phone(phone) if row is not None else None
    if row is None or user is None or not user.is_active:
        db.session.commit()
        raise _wrong_code()
    sms_codes.spend(row)
    user.set_password(password)
    end_user_sessions(user.get_id())
    throttle.clear_phone(phone)
    audit.record("account.password_reset", actor, target=user, person=user.person,
                 label=mask_phone(phone))
    db.session.commit()
    return user


def change_password(user: User, code: str, password: str, actor: Actor,
                    keep_session: str | None) -> None:
    """Set a new password with the code texted to the user's phone; every other session ends.

    ``keep_session`` is the stored key of the session doing the change, which continues.
    """
    check_password_rule(password)
    row = sms_codes.match(user.phone, "change_password", code)
    if row is None:
        db.session.commit()
        raise _wrong_code()
    sms_codes.spend(row)
    user.set_password(password)
    end_user_sessions(user.get_id(), keep_session)
    audit.record("account.password_change", actor, target=user, person=user.person,
                 label=mask_phone(user.phone))
    db.session.commit()
