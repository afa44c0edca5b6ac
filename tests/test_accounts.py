"""Registration (real name + face check), login, logout, 我的."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.helpers import refused_page
from tests.test_face import blank_image, face_image
from webapp import clock
from webapp.accounts import services as accounts
from webapp.accounts.documents import current_versions
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.face import services as face
from webapp.idnumber import make_id_number
from webapp.models import AuditLog, FaceCheck, User

PASSWORD = "Passw0rd!"


def users() -> int:
    return db.session.scalar(select(func.count(User.id)))


def audits(action: str) -> list[AuditLog]:
    return db.session.scalars(select(AuditLog).filter_by(action=action)).all()


def form_for(person, **overrides) -> dict:
    data = {
        "phone": "13812345678",
        "password": "abc12345",
        "confirm": "abc12345",
        "name": person.name,
        "id_number": person.id_number,
        "agree": "y",
        "agree_face": "y",
    }
    data.update(overrides)
    return data


def latest_check(person) -> FaceCheck:
    return db.session.scalars(
        select(FaceCheck).filter_by(person_id=person.id).order_by(FaceCheck.id.desc())
    ).first()


def post_face(client, check: FaceCheck, image: bytes):
    """Post the photo; a refusal is the camera page its 303 leads to."""
    return refused_page(client, client.post(
        f"/face/{check.public_id}",
        data={"nonce": check.nonce, "image": (io.BytesIO(image), "face.png")},
        content_type="multipart/form-data",
    ))


def register_through(client, person, image: bytes | None = None, **overrides):
    """Step 1, the face check, then the completion; returns the last response."""
    first = refused_page(client, client.post("/auth/register", data=form_for(person, **overrides)))
    assert first.status_code == 302, first.get_data(as_text=True)
    assert first.headers["Location"].startswith("/face/")
    check = latest_check(person)
    passed = post_face(client, check, image or face_image())
    if passed.status_code != 302:
        return passed
    assert passed.headers["Location"] == "/auth/register/complete"
    return client.get(passed.headers["Location"])


# --- registration -------------------------------------------------------------------------

def test_register_page(client):
    html = client.get("/auth/register").get_data(as_text=True)
    for text in ("手机号", "密码", "确认密码", "姓名", "身份证号", "人脸识别"):
        assert text in html


def test_register_happy_path(client, factory):
    person = factory.person(name="赵小红", male=False)
    response = register_through(client, person)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    user = db.session.scalars(select(User)).one()
    assert user.phone == "13812345678" and user.role == "insured"
    assert user.person_id == person.id
    assert user.check_password("abc12345")
    assert user.last_login_at is not None
    assert len(audits("account.register")) == 1
    home = client.get("/")
    assert "注册成功" in home.get_data(as_text=True)
    assert client.get("/auth/me").status_code == 200
    # The pass was spent by the registration.
    assert not face.has_pass(person, "register")


def test_register_keeps_a_safe_next(client, factory):
    person = factory.person()
    client.get("/auth/register?next=/family/")
    data = form_for(person, next="/family/")
    first = refused_page(client, client.post("/auth/register", data=data))
    check = latest_check(person)
    post_face(client, check, face_image())
    done = client.get("/auth/register/complete")
    assert first.status_code == 302
    assert done.headers["Location"] == "/family/"


ID_NOT_IN_REGISTRY = make_id_number("110101", clock.today().replace(year=1980), 123)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # One answer for both (issue 12.7): the page does not tell whether an ID is insured.
        ({"id_number": ID_NOT_IN_REGISTRY}, "姓名与身份证号不匹配或未找到参保信息，请核对后重试"),
        ({"name": "李四"}, "姓名与身份证号不匹配或未找到参保信息，请核对后重试"),
        ({"id_number": "11010119800101123"}, "身份证号应为18位"),
        ({"id_number": ID_NOT_IN_REGISTRY[:17] + ("0" if ID_NOT_IN_REGISTRY[17] != "0" else "1")},
         "身份证号校验位错误，请核对"),
        ({"password": "abcdefgh", "confirm": "abcdefgh"}, "密码至少8位，且须同时包含字母和数字"),
        ({"password": "12345678", "confirm": "12345678"}, "密码至少8位，且须同时包含字母和数字"),
        ({"password": "ab12", "confirm": "ab12"}, "密码至少8位，且须同时包含字母和数字"),
        ({"confirm": "abc123456"}, "两次输入的密码不一致"),
        ({"phone": "12812345678"}, "请输入正确的11位手机号"),
    ],
    ids=["not-in-registry", "name-mismatch", "id-length", "id-check-char", "password-letters",
         "password-digits", "password-short", "confirm", "phone-format"],
)
def test_registration_refusals(client, factory, overrides, message):
    person = factory.person(name="张三")
    response = refused_page(client, client.post("/auth/register", data=form_for(person, **overrides)))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert users() == 0
    assert db.session.scalar(select(func.count(FaceCheck.id))) == 0


def test_refused_when_the_person_has_an_account(client, factory):
    person = factory.person()
    factory.user(person)
    response = refused_page(client, client.post("/auth/register", data=form_for(person, phone="13700000000")))
    assert "该身份证号已注册，请直接登录" in response.get_data(as_text=True)
    assert users() == 1
    assert db.session.scalar(select(func.count(FaceCheck.id))) == 0


def test_refused_when_the_phone_is_taken(client, factory):
    taken = factory.user()
    person = factory.person(name="李四")
    response = refused_page(client, client.post("/auth/register", data=form_for(person, phone=taken.phone)))
    assert "该手机号已被注册" in response.get_data(as_text=True)
    assert users() == 1


def test_refusal_messages_sit_on_their_fields(app, factory):
    person = factory.person()
    # Name mismatch and "not insured" are one refusal, on the same field (issue 12.7).
    with pytest.raises(DomainError) as mismatch:
        accounts.check_registration("13812345678", "别人", person.id_number)
    with pytest.raises(DomainError) as not_found:
        accounts.check_registration("13812345678", person.name, ID_NOT_IN_REGISTRY)
    expected = ("id_number", "姓名与身份证号不匹配或未找到参保信息，请核对后重试", "not_in_registry")
    for err in (mismatch, not_found):
        assert (err.value.field, err.value.message, err.value.code) == expected


def test_failed_face_check_writes_no_account(client, factory):
    person = factory.person(face_check_fails=True)
    response = register_through(client, person)
    assert response.status_code == 200
    assert "人脸识别未通过，请确认是本人操作" in response.get_data(as_text=True)
    assert users() == 0
    # Going to the completion anyway gets a new face check, not an account.
    again = client.get("/auth/register/complete")
    assert again.status_code == 302 and again.headers["Location"].startswith("/face/")
    assert users() == 0


def test_blank_camera_frame_writes_no_account(client, factory):
    person = factory.person()
    response = register_through(client, person, image=blank_image())
    assert "未检测到清晰的人脸图像" in response.get_data(as_text=True)
    assert users() == 0


def test_complete_without_pending_registration(client):
    response = client.get("/auth/register/complete")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/register"


def test_pending_registration_expires(client, factory):
    person = factory.person()
    refused_page(client, client.post("/auth/register", data=form_for(person)))
    post_face(client, latest_check(person), face_image())
    clock.shift(timedelta(hours=1))
    response = client.get("/auth/register/complete")
    assert response.headers["Location"] == "/auth/register"
    assert users() == 0


def test_phone_taken_while_face_checking(client, factory):
    person = factory.person()
    refused_page(client, client.post("/auth/register", data=form_for(person)))
    post_face(client, latest_check(person), face_image())
    factory.user(factory.person(name="王五", phone="13812345678"))
    response = client.get("/auth/register/complete")
    assert response.status_code == 200
    assert "该手机号已被注册" in response.get_data(as_text=True)
    assert users() == 1
    # The pass was not spent by the refused registration.
    assert face.has_pass(person, "register")


def test_integrity_error_becomes_the_field_message(app, factory, monkeypatch):
    person = factory.person()
    other = factory.user(factory.person(name="王五", phone="13812345678"))
    check = face.begin(person, "register", "/")
    face.submit_photo(check, check.nonce, face_image(), Actor())
    pending = accounts.PendingRegistration(
        phone=other.phone, password_hash="x", person_public_id=person.public_id,
        name=person.name, id_number=person.id_number,
        consents=current_versions(),
    )
    # Simulate the race: the checks ran before the other registration committed.
    monkeypatch.setattr(accounts, "check_registration", lambda *a: person)
    with pytest.raises(DomainError) as err:
        accounts.complete_registration(pending, Actor())
    assert (err.value.field, err.value.message) == ("phone", "该手机号已被注册")
    assert users() == 1
    assert face.has_pass(person, "register")


def test_logged_in_user_is_sent_home_from_register(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    assert client.get("/auth/register").status_code == 302


# --- login --------------------------------------------------------------------------------

def test_login_good(client, factory, auth):
    user = factory.user()
    response = auth.login(user.phone)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None
    log = audits("account.login")
    assert len(log) == 1 and log[0].actor_label == user.phone[:3] + "****" + user.phone[-4:]
    assert client.get("/auth/me").status_code == 200


def test_login_bad_password(client, factory, auth):
    user = factory.user()
    response = auth.login(user.phone, "wrong-pass1")
    assert response.status_code == 200
    assert "手机号或密码错误" in response.get_data(as_text=True)
    assert client.get("/auth/me").status_code == 302
    failed = audits("account.login_failed")
    assert len(failed) == 1 and user.phone not in failed[0].actor_label
    assert "****" in failed[0].actor_label


def test_login_message_does_not_reveal_the_phone(client, factory, auth):
    user = factory.user()
    wrong_password = auth.login(user.phone, "wrong-pass1").get_data(as_text=True)
    unknown_phone = auth.login("13000000000", "wrong-pass1").get_data(as_text=True)
    assert "手机号或密码错误" in wrong_password
    assert wrong_password.replace(user.phone, "PHONE") == unknown_phone.replace(
        "13000000000", "PHONE"
    )


def test_login_rate_limit_per_ip(client, factory, app, auth):
    user = factory.user()
    for _ in range(5):
        assert auth.login(user.phone, "wrong-pass1").status_code == 200
    sixth = auth.login(user.phone, "wrong-pass1")
    assert sixth.status_code == 429
    assert "操作过于频繁" in sixth.get_data(as_text=True)
    # Even the right password from the same IP waits.
    assert auth.login(user.phone).status_code == 429
    # Someone else logging in from another IP is not affected.
    other = factory.user(factory.person(name="李四"))
    elsewhere = app.test_client()
    response = elsewhere.post("/auth/login", data={"phone": other.phone, "password": PASSWORD},
                              environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 302


def test_login_rate_limit_per_phone_across_ips(app, factory):
    user = factory.user()
    for i in range(5):
        c = app.test_client()
        response = refused_page(c, c.post(
            "/auth/login", data={"phone": user.phone, "password": "wrong-pass1"},
            environ_base={"REMOTE_ADDR": f"10.0.1.{i}"},
        ))
        assert response.status_code == 200
    c = app.test_client()
    sixth = refused_page(c, c.post(
        "/auth/login", data={"phone": user.phone, "password": "wrong-pass1"},
        environ_base={"REMOTE_ADDR": "10.0.1.99"},
    ))
    assert sixth.status_code == 429


def test_good_logins_do_not_count(client, factory, auth):
    user = factory.user()
    for _ in range(7):
        assert auth.login(user.phone).status_code == 302
        assert auth.logout().status_code == 302


def test_login_get_shows_the_form(client):
    html = client.get("/auth/login?next=/family/").get_data(as_text=True)
    assert 'value="/family/"' in html and "登录" in html


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [("/auth/me", "/auth/me"), ("https://evil.example/x", "/"), ("//evil.example", "/"),
     ("javascript:alert(1)", "/"), ("", "/")],
)
def test_login_safe_next(client, factory, next_url, expected):
    user = factory.user()
    response = client.post("/auth/login", data={"phone": user.phone, "password": PASSWORD,
                                                "next": next_url})
    assert response.headers["Location"] == expected


def test_login_next_from_query_string_is_cleaned(client):
    html = client.get("/auth/login?next=https://evil.example/").get_data(as_text=True)
    assert "evil.example" not in html


def test_staff_log_in_on_the_same_form(client, factory, auth):
    staff = factory.staff("pharmacy")
    assert auth.login(staff.phone).status_code == 302
    html = client.get("/auth/me").get_data(as_text=True)
    assert "药店工作人员" in html and "测试大药房" in html
    reviewer = factory.staff("reviewer", name="审核员老李")
    auth.logout()
    assert auth.login(reviewer.phone).status_code == 302
    assert "医保经办审核员" in client.get("/auth/me").get_data(as_text=True)


# --- logout -------------------------------------------------------------------------------

def test_logout_requires_post(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/auth/me").status_code == 200
    response = auth.logout()
    assert response.status_code == 302
    assert client.get("/auth/me").status_code == 302
    assert len(audits("account.logout")) == 1


# --- 我的 ----------------------------------------------------------------------------------

def test_me_requires_login(client):
    response = client.get("/auth/me")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_me_employee(client, factory, auth):
    from webapp.messages import services as messages

    person = factory.person(name="张小明", balance_fen=12345, region="320102")
    user = factory.user(person)
    messages.send(person, "测试消息")
    db.session.commit()
    auth.login(user.phone)
    html = client.get("/auth/me").get_data(as_text=True)
    assert "张*明" in html and "张小明" not in html
    assert person.id_number not in html and person.id_number[-4:] in html
    assert user.phone not in html and user.phone[-4:] in html
    assert "江苏" in html
    assert "职工医保" in html and "参保中" in html
    assert "123.45" in html
    assert "/messages/" in html and "1条未读消息" in html
    assert "/settings/elder" in html and 'name="enabled" value="1"' in html
    assert "/auth/logout" in html


def test_me_resident_has_no_balance(client, factory, auth):
    user = factory.user(factory.person(insurance_type="resident"))
    auth.login(user.phone)
    html = client.get("/auth/me").get_data(as_text=True)
    assert "居民医保" in html and "个人账户余额" not in html


def test_elder_mode_switch_from_me(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    response = client.post("/settings/elder", data={"enabled": "1", "next": "/auth/me"})
    assert response.headers["Location"] == "/auth/me"
    html = client.get("/auth/me").get_data(as_text=True)
    assert 'class="elder"' in html and 'name="enabled" value="0"' in html
