"""Failed logins counted in the database (every worker sees them), the SMS code as the second
factor instead of a lock-out, the client address through trusted proxies only, and one answer
for "not insured" and "name does not match" at registration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from tests.conftest import make_app
from tests.helpers import refused_page
from tests.test_accounts import ID_NOT_IN_REGISTRY, form_for
from tests.test_passwords import latest_code, outbox
from webapp.accounts.models import LoginFailure, SmsCode
from webapp.extensions import db
from webapp.models import AuditLog

PASSWORD = "Passw0rd!"
WRONG = "wrong-pass1"
ROOT = Path(__file__).resolve().parent.parent


def post_login(app, phone, password, ip="10.0.0.1", code=None, headers=None, client=None):
    data = {"phone": phone, "password": password}
    if code is not None:
        data["code"] = code
    client = client or app.test_client()
    response = client.post(
        "/auth/login", data=data, environ_base={"REMOTE_ADDR": ip}, headers=headers or {})
    return refused_page(client, response)  # a refusal shows on the GET after a 303


def fail_from_many_addresses(app, phone, times=5):
    for i in range(times):
        assert post_login(app, phone, WRONG, ip=f"10.1.0.{i}").status_code == 200


def failures(phone: str) -> int:
    return db.session.scalar(select(func.count(LoginFailure.id)).filter_by(phone=phone))


# --- counted in the database ----------------------------------------------------------------

def test_failures_are_rows_in_the_database(app, factory):
    user = factory.user()
    fail_from_many_addresses(app, user.phone, 3)
    assert failures(user.phone) == 3
    assert post_login(app, user.phone, PASSWORD).status_code == 302
    assert failures(user.phone) == 0


def test_two_app_instances_count_one_phone_together(app, factory, tmp_path):
    """Two apps on the same database (as two workers would be) share the phone's count."""
    user = factory.user()
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "second")
    for i in range(3):
        assert post_login(app, user.phone, WRONG, ip=f"10.2.0.{i}").status_code == 200
    for i in range(2):
        assert post_login(other, user.phone, WRONG, ip=f"10.3.0.{i}").status_code == 200
    sixth = post_login(app, user.phone, WRONG, ip="10.4.0.1")
    assert sixth.status_code == 429 and "短信验证码" in sixth.get_data(as_text=True)
    assert post_login(other, user.phone, WRONG, ip="10.4.0.2").status_code == 429
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


WORKER = textwrap.dedent("""
    import json, sys
    from webapp import create_app
    url, phone, first_ip = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url,
                      "UPLOAD_FOLDER": sys.argv[4]})
    statuses = []
    for i in range(3):
        client = app.test_client()
        response = client.post(
            "/auth/login", data={"phone": phone, "password": "wrong-pass1"},
            environ_base={"REMOTE_ADDR": f"10.5.{first_ip}.{i}"})
        if response.status_code == 303:  # a refusal shows on the GET after it
            response = client.get(response.headers["Location"])
        statuses.append(response.status_code)
    print(json.dumps(statuses))
""")


def test_separate_processes_count_one_phone_together(app, factory, tmp_path):
    """Real processes, each with its own memory: 3 + 3 failures are 6, the last one refused."""
    user = factory.user()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    statuses = []
    for worker in range(2):
        done = subprocess.run(
            [sys.executable, "-c", WORKER, url, user.phone, str(worker), str(tmp_path / "up")],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
        statuses += json.loads(done.stdout.strip().splitlines()[-1])
    assert statuses == [200] * 5 + [429]
    assert failures(user.phone) == 5


# --- the second factor instead of a lock-out -------------------------------------------------

def test_owner_gets_in_with_the_sms_code_after_a_strangers_failures(app, factory):
    user = factory.user()
    fail_from_many_addresses(app, user.phone)
    owner = app.test_client()
    asked = post_login(app, user.phone, PASSWORD, ip="10.8.0.1", client=owner)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 429
    assert "请获取短信验证码" in html and 'name="code"' in html and "获取验证码" in html
    assert owner.get("/auth/me").status_code == 302
    sent = owner.post("/auth/login/code", data={"phone": user.phone},
                      environ_base={"REMOTE_ADDR": "10.8.0.1"})
    assert sent.status_code == 302
    form = owner.get("/auth/login").get_data(as_text=True)
    assert 'name="code"' in form and user.phone in form
    code = latest_code(user.phone)
    done = post_login(app, user.phone, PASSWORD, ip="10.8.0.1", code=code, client=owner)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert owner.get("/auth/me").status_code == 200
    log = db.session.scalars(select(AuditLog).filter_by(action="account.login")).one()
    assert "second_factor" in log.detail
    # The code was used up and the phone's count cleared.
    assert db.session.scalars(select(SmsCode)).one().used_at is not None
    assert failures(user.phone) == 0


def test_wrong_passwords_stay_refused_with_a_valid_code(app, factory):
    user = factory.user()
    fail_from_many_addresses(app, user.phone)
    app.test_client().post("/auth/login/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    wrong = post_login(app, user.phone, WRONG, ip="10.8.0.2", code=code)
    assert wrong.status_code == 200
    assert "手机号、密码或验证码错误" in wrong.get_data(as_text=True)
    # Without a code, right or wrong, the answer is the same: no oracle for the password.
    right_no_code = post_login(app, user.phone, PASSWORD, ip="10.8.0.3")
    wrong_no_code = post_login(app, user.phone, WRONG, ip="10.8.0.4")
    assert right_no_code.status_code == wrong_no_code.status_code == 429
    assert right_no_code.get_data(as_text=True) == wrong_no_code.get_data(as_text=True)
    # Guessing codes is attempt-limited: the right code dies after the limit.
    for _ in range(app.config["SMS_CODE_MAX_ATTEMPTS"]):
        post_login(app, user.phone, PASSWORD, ip="10.8.0.5", code="000000" if code != "000000"
                   else "111111")
    assert post_login(app, user.phone, PASSWORD, ip="10.8.0.6", code=code).status_code == 200


def test_wrong_code_with_right_password_is_refused(app, factory):
    user = factory.user()
    fail_from_many_addresses(app, user.phone)
    app.test_client().post("/auth/login/code", data={"phone": user.phone})
    code = latest_code(user.phone)
    bad = "000000" if code != "000000" else "111111"
    refused = post_login(app, user.phone, PASSWORD, ip="10.8.1.1", code=bad)
    assert refused.status_code == 200 and "手机号、密码或验证码错误" in refused.get_data(as_text=True)


def test_unknown_phone_is_asked_for_a_code_alike_and_gets_no_sms(app, factory):
    phone = "13999999998"
    fail_from_many_addresses(app, phone)
    asked = post_login(app, phone, WRONG, ip="10.8.2.1")
    assert asked.status_code == 429 and 'name="code"' in asked.get_data(as_text=True)
    app.test_client().post("/auth/login/code", data={"phone": phone})
    assert outbox(phone) == []


# --- the client address and trusted proxies -------------------------------------------------

def test_forwarded_headers_are_ignored_without_trusted_proxies(app, factory):
    """By default X-Forwarded-For is anyone's to send: the peer address is what counts."""
    for i in range(5):
        victim = factory.user(factory.person(name=f"用户{i}"))
        post_login(app, victim.phone, WRONG, ip="192.0.2.10",
                   headers={"X-Forwarded-For": f"198.51.100.{i}"})
    sixth = factory.user(factory.person(name="第六人"))
    response = post_login(app, sixth.phone, PASSWORD, ip="192.0.2.10",
                          headers={"X-Forwarded-For": "198.51.100.77"})
    assert response.status_code == 429
    row = db.session.scalars(select(AuditLog).filter_by(action="account.login_failed")).first()
    assert row.ip == "192.0.2.10"


def test_forwarded_address_is_used_behind_a_trusted_proxy(tmp_path, factory, app):
    """With TRUSTED_PROXY_HOPS=1 five users behind the proxy do not lock out a sixth."""
    proxied = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "proxied",
                       TRUSTED_PROXY_HOPS=1)
    for i in range(5):
        victim = factory.user(factory.person(name=f"用户{i}"))
        post_login(proxied, victim.phone, WRONG, ip="192.0.2.10",
                   headers={"X-Forwarded-For": f"198.51.100.{i}"})
    sixth = factory.user(factory.person(name="第六人"))
    response = post_login(proxied, sixth.phone, PASSWORD, ip="192.0.2.10",
                          headers={"X-Forwarded-For": "198.51.100.77"})
    assert response.status_code == 302
    ips = set(db.session.scalars(select(LoginFailure.ip)))
    assert ips == {f"198.51.100.{i}" for i in range(5)}
    # One client's own failures still stop that client.
    for _ in range(5):
        post_login(proxied, "13000000001", WRONG, ip="192.0.2.10",
                   headers={"X-Forwarded-For": "203.0.113.5"})
    blocked = post_login(proxied, sixth.phone, PASSWORD, ip="192.0.2.10",
                         headers={"X-Forwarded-For": "203.0.113.5"})
    assert blocked.status_code == 429
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


def test_proxy_hops_are_off_by_default():
    from webapp.config import BaseConfig

    assert BaseConfig.TRUSTED_PROXY_HOPS == 0


# --- registration does not tell who is insured ---------------------------------------------

def test_not_insured_and_name_mismatch_get_one_answer(client, factory):
    person = factory.person(name="张三")
    not_found = refused_page(client, client.post("/auth/register",
                            data=form_for(person, id_number=ID_NOT_IN_REGISTRY))).get_data(as_text=True)
    mismatch = refused_page(client, client.post("/auth/register", data=form_for(person, name="李四"))).get_data(as_text=True)
    message = "姓名与身份证号不匹配或未找到参保信息，请核对后重试"
    assert message in not_found and message in mismatch
    for page in (not_found, mismatch):
        assert "未找到该身份证号的参保信息" not in page and "姓名与身份证号不匹配<" not in page

    def shape(page: str) -> str:
        return (page.replace(ID_NOT_IN_REGISTRY, "ID").replace(person.id_number, "ID")
                .replace("李四", "NAME").replace("张三", "NAME"))

    assert shape(not_found) == shape(mismatch)
