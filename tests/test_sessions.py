"""Server-side sessions: the cookie is an opaque id, logout and password changes end sessions."""

from __future__ import annotations

import base64
import zlib
from datetime import timedelta

from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests.test_accounts import form_for
from tests.test_passwords import latest_code
from webapp import clock, sessions
from webapp.accounts.models import WebSession
from webapp.extensions import db
from webapp.models import User
from webapp.sessions import SID_RE, hash_sid

PASSWORD = "Passw0rd!"


def cookie(client) -> str:
    """The session cookie's value ('' when there is none)."""
    found = client.get_cookie("session")
    return found.value if found else ""


def decoded(value: str) -> str:
    """What anyone holding the cookie can read: Flask's signed-cookie payload, decoded."""
    payload = value.lstrip(".").split(".")[0]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except ValueError:
        return ""
    if value.startswith("."):
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            return ""
    return raw.decode("utf-8", "replace")


def stored(value: str) -> str:
    """The server-side data of the session the cookie names."""
    row = db.session.scalar(select(WebSession).filter_by(sid_hash=hash_sid(value)))
    return row.data if row else ""


def sessions_of(user: User) -> int:
    return db.session.scalar(
        select(func.count(WebSession.id)).filter_by(user_key=user.public_id)
    )


def test_cookie_is_an_opaque_id(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    value = cookie(client)
    assert SID_RE.match(value), value
    assert user.public_id not in decoded(value) and "_user_id" not in decoded(value)
    assert user.public_id in stored(value)


def test_wizard_draft_stays_on_the_server(client, factory, auth):
    user = factory.user(name="李华", age=35)
    auth.login(user.phone)
    kf.face_pass(user.person)
    child = factory.person(name="李小明", age=8)
    assert client.post("/family/add/notice", data={"agree": "y"}).status_code == 302
    r = client.post("/family/add/info", data={"name": child.name, "id_number": child.id_number,
                                              "relation": "child", "phone": ""})
    assert r.status_code == 302, r.get_data(as_text=True)
    value = cookie(client)
    assert child.id_number not in value and child.id_number not in decoded(value)
    assert child.id_number in stored(value)


def test_pending_registration_stays_on_the_server(client, factory):
    person = factory.person(name="赵小红", male=False)
    r = client.post("/auth/register", data=form_for(person))
    assert r.status_code == 302
    value = cookie(client)
    seen = value + decoded(value)
    assert person.id_number not in seen
    assert "scrypt:" not in seen and "pbkdf2:" not in seen and "password_hash" not in seen
    assert person.id_number in stored(value) and "scrypt:" in stored(value)


def test_logout_ends_the_session_on_the_server(app, client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    old = cookie(client)
    assert client.get("/auth/me").status_code == 200
    assert auth.logout().status_code == 302
    assert stored(old) == ""
    replay = app.test_client()
    replay.set_cookie("session", old)
    response = replay.get("/auth/me")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")


def test_login_rotates_the_session_id(app, client, factory, auth):
    user = factory.user()
    with client.session_transaction() as sess:
        sess["planted"] = "before login"
    before = cookie(client)
    assert SID_RE.match(before)
    auth.login(user.phone)
    after = cookie(client)
    assert after and after != before
    assert stored(before) == ""
    # Whoever planted the pre-login id (fixation) is not logged in with it.
    attacker = app.test_client()
    attacker.set_cookie("session", before)
    assert attacker.get("/auth/me").status_code == 302
    assert client.get("/auth/me").status_code == 200


def test_password_change_ends_every_other_session(app, client, factory, auth):
    user = factory.user()
    other = app.test_client()
    assert other.post("/auth/login", data={"phone": user.phone, "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.9.0.2"}).status_code == 302
    auth.login(user.phone)
    assert sessions_of(user) == 2
    client.post("/auth/password/change/code")
    code = latest_code(user.phone)
    r = client.post("/auth/password/change",
                    data={"code": code, "password": "NewPass123", "confirm": "NewPass123"})
    assert r.status_code == 302 and r.headers["Location"] == "/auth/me"
    assert sessions_of(user) == 1
    assert client.get("/auth/me").status_code == 200
    assert other.get("/auth/me").status_code == 302


def test_idle_session_expires(client, factory, auth, monkeypatch):
    user = factory.user()
    auth.login(user.phone)
    later = sessions.wall_clock() + timedelta(hours=8, minutes=1)
    monkeypatch.setattr(sessions, "wall_clock", lambda: later)
    assert client.get("/auth/me").status_code == 302


def test_session_expiry_ignores_the_app_clock(client, factory, auth):
    """Tests and the demo move the app clock by days; a session is idle by the wall clock."""
    user = factory.user()
    auth.login(user.phone)
    clock.shift(timedelta(days=3))
    assert client.get("/auth/me").status_code == 200


def test_garbage_or_unknown_cookie_is_a_fresh_session(app, factory):
    for value in ("nonsense", "A" * 43, "x" * 5000, ".eJyrVkrLz1eyUkpKLFKqBQAdegQ0.abc.def"):
        c = app.test_client()
        c.set_cookie("session", value)
        response = c.get("/auth/me")
        assert response.status_code == 302


def test_flash_messages_survive_the_server_store(client, factory, auth):
    user = factory.user()
    auth.login(user.phone)
    logged_in = cookie(client)
    auth.logout()
    after = cookie(client)
    assert after != logged_in and SID_RE.match(after)
    assert "已退出登录" in client.get("/").get_data(as_text=True)


def test_static_files_do_not_load_the_session(client, factory, auth):
    from tests.test_query_counts import counting

    user = factory.user()
    auth.login(user.phone)
    with counting() as box:
        assert client.get("/static/css/app.css").status_code == 200
    assert box[0] == 0
    assert client.get("/auth/me").status_code == 200
