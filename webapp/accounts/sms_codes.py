"""6-digit SMS verification codes: keyed hash only, short-lived, single use, attempt-limited.

Every number comes from config: SMS_CODE_DIGITS, SMS_CODE_VALID_SECONDS, SMS_CODE_MAX_ATTEMPTS,
SMS_RESEND_SECONDS, SMS_DAILY_MAX. A code is issued for the phone typed whether or not an
account has it (and texted only when one has), so the answers never tell who is registered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from webapp import clock, sms
from webapp.accounts.models import SmsCode
from webapp.domain import DomainError
from webapp.extensions import db

PURPOSES = {"login": "登录", "reset_password": "重置密码", "change_password": "修改密码"}
TEXT = "【亲情医保】您的{purpose}验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略并勿告诉他人。"

# One issue in this many deletes the codes older than two days (past every limit's window).
PURGE_ONE_IN = 50

MSG_RESEND_WAIT = "验证码已发送，请{seconds}秒后再重新获取"
MSG_DAILY_MAX = "今日获取验证码次数已达上限，请明天再试"
MSG_SEND_FAILED = "短信发送失败，请稍后再试"
MSG_CODE_WRONG = "验证码错误或已失效，请重新获取"


def _config(key: str) -> int:
    return int(current_app.config[key])


def _digest(phone: str, purpose: str, code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def issue(phone: str, purpose: str, deliver: bool) -> None:
    """Issue a code for the phone and text it when ``deliver``; commits.

    Refused (DomainError on field ``code``) within SMS_RESEND_SECONDS of the last code for the
    same phone and purpose, and past SMS_DAILY_MAX codes for the phone in 24 hours.
    """
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    now = clock.now()
    last = db.session.scalar(
        select(func.max(SmsCode.created_at)).where(SmsCode.phone == phone,
                                                   SmsCode.purpose == purpose)
    )
    wait = _config("SMS_RESEND_SECONDS")
    if last is not None and now - last < timedelta(seconds=wait):
        left = wait - int((now - last).total_seconds())
        raise DomainError(MSG_RESEND_WAIT.format(seconds=max(left, 1)), field="code",
                          code="sms_wait")
    today = db.session.scalar(
        select(func.count(SmsCode.id)).where(SmsCode.phone == phone,
                                             SmsCode.created_at > now - timedelta(days=1))
    ) or 0
    if today >= _config("SMS_DAILY_MAX"):
        raise DomainError(MSG_DAILY_MAX, field="code", code="sms_daily_max")
    digits = _config("SMS_CODE_DIGITS")
    code = f"{secrets.randbelow(10 ** digits):0{digits}d}"
    valid = _config("SMS_CODE_VALID_SECONDS")
    db.session.add(SmsCode(phone=phone, purpose=purpose, code_hash=_digest(phone, purpose, code),
                           attempts=0, created_at=now, expires_at=now + timedelta(seconds=valid)))
    if secrets.randbelow(PURGE_ONE_IN) == 0:
        db.session.execute(delete(SmsCode).where(SmsCode.created_at < now - timedelta(days=2)))
    if deliver:
        try:
            sms.send(phone, TEXT.format(purpose=PURPOSES[purpose], code=code,
                                        minutes=max(valid // 60, 1)))
        except sms.SmsError:
            db.session.rollback()
            raise DomainError(MSG_SEND_FAILED, field="code", code="sms_failed") from None
    db.session.commit()


def match(phone: str, purpose: str, code: str | None) -> SmsCode | None:
    """The live code row if ``code`` is right; a wrong code spends one attempt (not committed).

    Only the newest code of the phone and purpose counts; it is live while unused, unexpired
    and under SMS_CODE_MAX_ATTEMPTS wrong tries. The row is locked until the caller commits.
    """
    row = db.session.scalars(
        select(SmsCode).where(SmsCode.phone == phone, SmsCode.purpose == purpose)
        .order_by(SmsCode.id.desc()).limit(1).with_for_update()
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= clock.now():
        return None
    if row.attempts >= _config("SMS_CODE_MAX_ATTEMPTS"):
        return None
    given = "".join((code or "").split())
    if hmac.compare_digest(row.code_hash, _digest(phone, purpose, given)):
        return row
    row.attempts += 1
    return None


def spend(row: SmsCode) -> None:
    """Use the code up (committed with the caller's transaction)."""
    row.used_at = clock.now()


def miss(row: SmsCode) -> None:
    """The code was right but the rest was not: it still costs an attempt."""
    row.attempts += 1
