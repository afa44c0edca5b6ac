"""忘记密码 and 修改密码 with a 6-digit SMS code; the SMS sender interface and its outbox."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from tests.helpers import refused_page
from webapp import clock
from webapp.accounts.models import SmsCode
from webapp.extensions import db
from webapp.models import AuditLog, User
from webapp.sms import SmsError
from webapp.sms.outbox import SmsOutboxMessage

PASSWORD = "Passw0rd!"
NEW = "NewPass123"


def outbox(phone: str) -> list[str]:
    return list(db.session.scalars(
        select(SmsOutboxMessage.text).filter_by(phone=phone).order_by(SmsOutboxMessage.id)
    ))


def latest_code(phone: str) -> str:
    """The code of the newest text to the phone."""
    texts = outbox(phone)
    assert texts, f"no SMS to {phone}"
    found = re.search(r"验证码为(\d{6})", texts[-1])
    assert found, texts[-1]
    return found.group(1)


def codes() -> int:
    return db.session.scalar(select(func.count(SmsCode.id)))


def flashes(client) -> list[str]:
    with client.session_transaction() as s:
        return [m for _, m in s.get("_flashes", [])]


def reset(client, phone, code, password=NEW, confirm=None):
    return refused_page(client, client.post("/auth/password/forgot", data={
        "phone": phone, "code": code, "password": password, "confirm": confirm or password}))


class RecordingSender:
    """A provider stand-in plugged in through config SMS_SENDER."""

    sent: list[tuple[str, str]] = []

    def __init__(self, app):
        self.app = app

    def send(self, phone: str, text: str) -> None:
        RecordingSender.sent.append((phone, text))


class RefusingSender:
    """A provider that is down."""

    def __init__(self, app):
        self.app = app

    def send(self, phone: str, text: str) -> None:
        raise SmsError("provider down")


# --- pages and links ------------------------------------------------------------------------

def test_forgot_password_is_linked_from_the_login_page(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert "/auth/password/forgot" in html and "忘记密码" in html
    page = client.get("/auth/password/forgot").get_data(as_text=True)
    for text in ("忘记密码", "手机号", "获取验证码", "验证码", "新密码", "确认新密码", "重置密码"):
        assert text in page


def test_change_password_is_linked_from_me(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    assert "/auth/password/change" in client.get("/auth/me").get_data(as_text=True)
    page = client.get("/auth/password/change").get_data(as_text=True)
    assert "修改密码" in page and "获取验证码" in page and user.phone[-4:] in page
    assert user.phone not in page


def test_change_password_needs_login(client):
    assert client.get("/auth/password/change").status_code == 302


# --- 忘记密码 --------------------------------------------------------------------------------

def test_reset_password_with_the_sms_code(app, client, factory, auth):
    user = factory.user()
    elsewhere = app.test_client()
    elsewhere.post("/auth/login", data={"phone": user.phone, "password": PASSWORD})
    assert elsewhere.get("/auth/me").status_code == 200
    r = client.post("/auth/password/forgot/code", data={"phone": user.phone})
    assert r.status_code == 302
    assert "如该手机号已注册，验证码已发送，请查收短信" in flashes(client)
    code = latest_code(user.phone)
    assert len(code) == 6
    r = reset(client, user.phone, code)
    assert r.status_code == 302 and r.headers["Location"] == "/auth/login"
    assert auth.login(user.phone, PASSWORD).status_code == 200
    assert auth.login(user.phone, NEW).status_code == 302
    # Every session the account had before the reset is over.
    assert elsewhere.get("/auth/me").status_code == 302
    assert db.session.scalars(select(AuditLog).filter_by(action="account.password_reset")).one()


def test_reset_code_is_single_use(client, factory):
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    assert reset(client, user.phone, code).status_code == 302
    again = reset(client, user.phone, code, password="Other1234")
    assert again.status_code == 200
    assert "验证码错误或已失效，请重新获取" in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(NEW)


def test_reset_code_is_attempt_limited(client, factory, app):
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(app.config["SMS_CODE_MAX_ATTEMPTS"]):
        assert "验证码错误或已失效" in reset(client, user.phone, wrong).get_data(as_text=True)
    # The right code no longer works once the attempts are spent.
    assert reset(client, user.phone, code).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)


def test_reset_code_expires(client, factory, app):
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    clock.shift(timedelta(seconds=app.config["SMS_CODE_VALID_SECONDS"] + 1))
    assert "验证码错误或已失效" in reset(client, user.phone, code).get_data(as_text=True)


def test_code_is_stored_hashed(client, factory):
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    row = db.session.scalars(select(SmsCode)).one()
    assert code not in row.code_hash and len(row.code_hash) == 64


def test_unknown_phone_gets_the_same_answer_and_no_sms(client, factory):
    user = factory.user()
    known = client.post("/auth/password/forgot/code", data={"phone": user.phone})
    known_flash = flashes(client)
    unknown = client.post("/auth/password/forgot/code", data={"phone": "13999999999"})
    assert known.status_code == unknown.status_code == 302
    assert flashes(client)[-1:] == known_flash[-1:]
    assert outbox("13999999999") == []
    # Asking again at once is refused alike for both, so the refusal tells nothing either.
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    wait_known = flashes(client)[-1]
    client.post("/auth/password/forgot/code", data={"phone": "13999999999"})
    assert flashes(client)[-1] == wait_known and "秒后再重新获取" in wait_known
    answer = reset(client, "13999999999", "123456").get_data(as_text=True)
    assert "验证码错误或已失效，请重新获取" in answer


def test_resend_interval_and_daily_maximum(client, factory, app):
    app.config["RATELIMIT_SMS_SEND"] = "100 per minute"  # the per-address cap is not tested here
    user = factory.user()
    for _ in range(app.config["SMS_DAILY_MAX"]):
        client.post("/auth/password/forgot/code", data={"phone": user.phone})
        clock.shift(timedelta(seconds=app.config["SMS_RESEND_SECONDS"] + 1))
    assert len(outbox(user.phone)) == app.config["SMS_DAILY_MAX"]
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    assert "今日获取验证码次数已达上限，请明天再试" in flashes(client)
    assert len(outbox(user.phone)) == app.config["SMS_DAILY_MAX"]


def test_reset_refuses_a_weak_password(client, factory):
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    page = reset(client, user.phone, code, password="abcdefgh").get_data(as_text=True)
    assert "密码至少8位，且须同时包含字母和数字" in page
    assert reset(client, user.phone, code, password=NEW, confirm="Other1234").status_code == 200


# --- 修改密码 --------------------------------------------------------------------------------

def test_change_password_with_the_sms_code(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    r = client.post("/auth/password/change/code")
    assert r.status_code == 302 and "验证码已发送至您的手机，请查收短信" in flashes(client)
    code = latest_code(user.phone)
    bad = refused_page(client, client.post("/auth/password/change",
                      data={"code": "99999x", "password": NEW, "confirm": NEW}))
    assert "验证码错误或已失效" in bad.get_data(as_text=True)
    r = refused_page(client, client.post("/auth/password/change", data={"code": code, "password": NEW, "confirm": NEW}))
    assert r.status_code == 302
    assert "密码已修改，其他设备上的登录已退出" in client.get("/auth/me").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(NEW)
    assert db.session.scalars(select(AuditLog).filter_by(action="account.password_change")).one()


def test_codes_of_one_purpose_do_not_open_another(client, factory, auth):
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    reset_code = latest_code(user.phone)
    auth.login(user.phone)
    r = refused_page(client, client.post("/auth/password/change",
                    data={"code": reset_code, "password": NEW, "confirm": NEW}))
    assert "验证码错误或已失效" in r.get_data(as_text=True)


# --- the sender interface, CLI and development page --------------------------------------------

def test_cli_shows_the_outbox(runner, client, factory):
    user = factory.user()
    assert "发件箱为空" in runner.invoke(args=["sms", "outbox"]).output
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    out = runner.invoke(args=["sms", "outbox", "--phone", user.phone]).output
    assert user.phone in out and latest_code(user.phone) in out and "重置密码" in out


def test_development_page_is_404_unless_enabled(app, client, factory):
    assert client.get("/auth/dev/sms").status_code == 404
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    app.config["SMS_OUTBOX_PAGE"] = True
    page = client.get("/auth/dev/sms").get_data(as_text=True)
    assert "短信发件箱" in page and latest_code(user.phone) in page


def test_production_and_testing_keep_the_page_off():
    from webapp.config import DevelopmentConfig, ProductionConfig, TestingConfig

    assert not ProductionConfig.SMS_OUTBOX_PAGE and not TestingConfig.SMS_OUTBOX_PAGE
    assert DevelopmentConfig.SMS_OUTBOX_PAGE


def test_a_provider_plugs_in_through_config(app, client, factory):
    app.config["SMS_SENDER"] = "tests.test_passwords:RecordingSender"
    app.extensions.pop("sms_sender", None)
    RecordingSender.sent.clear()
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    assert outbox(user.phone) == []
    assert len(RecordingSender.sent) == 1 and RecordingSender.sent[0][0] == user.phone
    assert re.search(r"验证码为\d{6}", RecordingSender.sent[0][1])


def test_a_failing_provider_keeps_no_code(app, client, factory):
    app.config["SMS_SENDER"] = "tests.test_passwords:RefusingSender"
    app.extensions.pop("sms_sender", None)
    user = factory.user()
    client.post("/auth/password/forgot/code", data={"phone": user.phone})
    assert "短信发送失败，请稍后再试" in flashes(client)
    assert codes() == 0
