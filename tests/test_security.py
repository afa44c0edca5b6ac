"""Security basics: CSRF, headers, cookies, Chinese error pages, CSP-safe templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_csrf_is_enforced_on_login(csrf_app):
    from tests import factories

    user = factories.user()
    client = csrf_app.test_client()
    response = client.post("/auth/login", data={"phone": user.phone, "password": "Passw0rd!"})
    assert response.status_code == 400
    assert "页面已过期或来源无效" in response.get_data(as_text=True)
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    ok = client.post("/auth/login", data={"phone": user.phone, "password": "Passw0rd!",
                                          "csrf_token": token})
    assert ok.status_code == 302


def test_csrf_is_enforced_on_logout_register_and_face(csrf_app):
    from tests import factories
    from webapp.face import services as face

    user = factories.user()
    client = csrf_app.test_client()
    token = csrf_token(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"phone": user.phone, "password": "Passw0rd!",
                                     "csrf_token": token})
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/auth/me").status_code == 200  # still logged in
    assert client.post("/auth/register", data={"phone": "13800000000"}).status_code == 400
    check = face.begin(user.person, "kinship_add", "/")
    with client.session_transaction() as sess:
        sess["face_checks"] = [check.public_id]
    refused = client.post(f"/face/{check.public_id}", data={"nonce": check.nonce},
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["message"].startswith("页面已过期")
    page = client.get(f"/face/{check.public_id}").get_data(as_text=True)
    assert csrf_token(page)
    me = client.get("/auth/me").get_data(as_text=True)
    out = client.post("/auth/logout", data={"csrf_token": csrf_token(me)})
    assert out.status_code == 302
    assert client.get("/auth/me").status_code == 302


def test_security_headers(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "'unsafe-inline'" not in next(
        p for p in csp.split(";") if p.strip().startswith("style-src")
    )
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "camera=(self)" in response.headers["Permissions-Policy"]


def test_session_cookie_flags(client, factory, auth):
    user = factory.user()
    response = auth.login(user.phone)
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


def test_404_page_is_chinese(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "页面不存在" in html and 'lang="zh-CN"' in html


def test_403_page_is_chinese(client, factory, auth):
    staff = factory.staff("pharmacy")
    auth.login(staff.phone)
    response = client.get("/messages/")
    assert response.status_code == 403
    assert "无权访问" in response.get_data(as_text=True)


def test_405_page_is_chinese(client):
    response = client.get("/auth/logout")
    assert response.status_code == 405
    assert "操作不支持" in response.get_data(as_text=True)


def test_429_page_is_chinese(client, factory, auth):
    user = factory.user()
    for _ in range(5):
        auth.login(user.phone, "wrong-pass1")
    response = auth.login(user.phone, "wrong-pass1")
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "操作过于频繁" in html and "请稍后再试" in html


def test_json_clients_get_json_errors(client):
    response = client.get("/face/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "404"


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
def test_pages_have_no_inline_script_or_style(client, path):
    html = client.get(path).get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


TEMPLATES = Path(__file__).parent.parent / "webapp" / "templates"


def test_no_template_has_inline_script_or_style():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 40
    for template in templates:
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\sstyle=", text), template
        assert not re.search(r"\son[a-z]+=", text), template


def test_no_page_depends_on_an_emoji_font(client, factory, auth):
    """Phones without a colour-emoji font show boxes: icons are inline SVG instead."""
    emoji = re.compile("[\U0001F000-\U0001FAFF]")
    for template in TEMPLATES.rglob("*.html"):
        assert not emoji.search(template.read_text(encoding="utf-8")), template
    auth.login(factory.user().phone)
    for path in ("/", "/family/", "/records/", "/messages/", "/aid/joined"):
        page = client.get(path).get_data(as_text=True)
        assert not emoji.search(page), path
        assert '<svg class="app-icon"' in page and 'd=""' not in page, path


def test_ids_in_urls_are_opaque(client, factory):
    from webapp.face import services as face

    person = factory.person()
    check = face.begin(person, "register", "/")
    assert not check.public_id.isdigit() and len(check.public_id) >= 16
    # Row ids do not name anything.
    assert client.get(f"/face/{check.id}").status_code == 404


def test_a_host_outside_trusted_hosts_is_refused_in_chinese(app):
    """With TRUSTED_HOSTS, a foreign Host header (a poisoned link's source) is a 400 — a bare
    page, since the styled one builds links from the request that was refused — and the named
    hosts, with their ports and (for ".jx.example.cn") subdomains, are served as before."""
    app.config["TRUSTED_HOSTS"] = ["ybm.example.cn", ".jx.example.cn"]
    client = app.test_client()
    page = client.get("/auth/login", headers={"Host": "evil.example"})
    assert page.status_code == 400
    body = page.get_data(as_text=True)
    assert "访问地址无效" in body and "evil.example" not in body
    assert page.headers["X-Content-Type-Options"] == "nosniff"  # the usual headers still apply
    api = client.post("/api/v1/codes/verify", json={}, headers={"Host": "evil.example:443"})
    assert api.status_code == 400
    assert api.get_json()["error"]["message"] == "访问地址无效，请通过正确的网址访问。"
    for base in ("http://ybm.example.cn", "https://ybm.example.cn:8443", "http://nc.jx.example.cn"):
        ok = client.get("/auth/login", base_url=base)
        assert ok.status_code == 200, base
        assert 'id="password"' in ok.get_data(as_text=True)  # the login form itself


def test_trusted_hosts_come_from_the_environment(monkeypatch, tmp_path):
    from tests.conftest import make_app

    monkeypatch.setenv("TRUSTED_HOSTS", " ybm.example.cn, .jx.example.cn ,")
    app = make_app(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path)
    assert app.config["TRUSTED_HOSTS"] == ["ybm.example.cn", ".jx.example.cn"]
    assert app.test_client().get("/auth/login", headers={"Host": "evil.example"}).status_code == 400
    monkeypatch.delenv("TRUSTED_HOSTS")
    assert make_app(f"sqlite:///{tmp_path / 'i.sqlite'}", tmp_path).config["TRUSTED_HOSTS"] is None
