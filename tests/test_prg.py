"""POST/redirect/GET on refusals (webapp/prg.py): every form POST with bad input answers a
redirect to a GET that shows the error and keeps what was typed — never passwords, files,
CSRF tokens or one-time ids — once; browser back never re-sends a POST."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests import kinship_factories as kf
from tests.test_aid_rules import make_owner, open_group
from tests.test_codes import issue, login
from webapp.aid import rules as aid_rules


@dataclass
class Case:
    """One form: how to get to it, what bad input to post, what the GET must show."""

    url: str
    data: dict[str, Any] | Callable[[], dict[str, Any]]  # a callable for a fresh file
    error: str
    kept: tuple[str, ...] = ()
    multipart: bool = False
    setup: Callable[..., Any] | None = None


def wizard(client, factory, auth, step: str):
    user = factory.user(name="李华", age=35)
    auth.login(user.phone)
    kf.face_pass(user.person)
    child = factory.person(name="李小明", age=8)
    if step in ("info", "material", "letter"):
        client.post("/family/add/notice", data={"agree": "y"})
    if step in ("material", "letter"):
        client.post("/family/add/info", data={"name": child.name, "id_number": child.id_number,
                                              "relation": "child"})
    if step == "letter":
        client.post("/family/add/material", data={
            "material_type": "birth_cert", "file": (io.BytesIO(kf.png_bytes()), "a.png")},
            content_type="multipart/form-data")


def aid_owner(client, factory, auth, with_group=True, face=False):
    user = make_owner(factory)
    if with_group:
        open_group(user)
    if face:
        kf.face_pass(user.person, aid_rules.CREATE_PURPOSE)
    login(client, user)


def counter(client, factory, auth, scanned=True):
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    login(client, factory.staff(pharmacy_obj=pharmacy, name="店员小王"))
    if scanned:
        user = factory.user(balance_fen=5000)
        client.post("/pharmacy/", data={"code": issue(user).code})


CASES = {
    "wizard_notice": Case("/family/add/notice", {}, "请阅读并勾选同意告知书",
                          setup=lambda c, f, a: wizard(c, f, a, "notice")),
    "wizard_info": Case("/family/add/info",
                        {"name": "李小明", "id_number": "360102201501010010", "relation": "child",
                         "phone": "13812345678"},
                        "身份证号校验位错误，请核对",
                        kept=('value="李小明"', 'value="360102201501010010"',
                              'value="13812345678"'),
                        setup=lambda c, f, a: wizard(c, f, a, "info")),
    "wizard_material": Case("/family/add/material",
                            lambda: {"material_type": "birth_cert",
                                     "file": (io.BytesIO(b"MZ" + b"\x00" * 64), "x.png")},
                            "仅支持JPG、PNG或PDF格式的文件", kept=('selected value="birth_cert"',),
                            multipart=True, setup=lambda c, f, a: wizard(c, f, a, "material")),
    "wizard_letter": Case("/family/add/letter", {"typed_name": "李华", "signature": ""},
                          "请在签名区域手写签名", kept=('value="李华"',),
                          setup=lambda c, f, a: wizard(c, f, a, "letter")),
    "aid_notice": Case("/aid/create/notice", {}, "请阅读并勾选同意《家庭共济告知书》",
                       setup=lambda c, f, a: aid_owner(c, f, a, with_group=False, face=True)),
    "aid_add_member": Case("/aid/members/add", {"name": "王小芳", "relation": "child"},
                           "请输入亲属的身份证号", kept=('value="王小芳"',),
                           setup=lambda c, f, a: aid_owner(c, f, a)),
    "pharmacy_scan": Case("/pharmacy/", {"code": "999999999999999999"}, "",
                          setup=lambda c, f, a: counter(c, f, a, scanned=False)),
    "pharmacy_patient": Case("/pharmacy/patient", {"amount": "12.345", "items": "布洛芬 1盒"},
                             "", kept=('value="12.345"', "布洛芬 1盒"),
                             setup=lambda c, f, a: counter(c, f, a)),
}


def normalise_selected(page: str) -> str:
    return page.replace('value="birth_cert" selected', 'selected value="birth_cert"')


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_post_redirects_to_a_get_with_the_error_and_the_input(
        app, client, factory, auth, name):
    case = CASES[name]
    assert case.setup is not None
    case.setup(client, factory, auth)
    kwargs = {"content_type": "multipart/form-data"} if case.multipart else {}
    data = case.data() if callable(case.data) else case.data
    r = client.post(case.url, data=data, **kwargs)
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    assert r.headers["Location"] == case.url
    shown = client.get(r.headers["Location"])
    assert shown.status_code == 200
    page = normalise_selected(shown.get_data(as_text=True))
    assert 'class="app-error"' in page or "app-error" in page
    if case.error:
        assert case.error in page
    for text in case.kept:
        assert text in page, text
    # Once: a reload shows the fresh form.
    again = normalise_selected(client.get(case.url).get_data(as_text=True))
    if case.error:
        assert case.error not in again


def test_passwords_files_tokens_and_skipped_fields_are_never_kept(app):
    from flask_wtf import FlaskForm
    from flask_wtf.file import FileField
    from wtforms import HiddenField, PasswordField, StringField

    from webapp.prg import kept_values

    class Form(FlaskForm):
        name = StringField()
        password = PasswordField()
        file = FileField()
        msgid = HiddenField()
        signature = HiddenField()

    with app.test_request_context("/x", method="POST", data={
            "name": "李华", "password": "Secret123", "msgid": "M1", "signature": "d" * 5000,
            "csrf_token": "t"}):
        form = Form()
        assert kept_values(form, skip=("msgid",)) == {"name": ["李华"]}


def test_the_kept_values_belong_to_one_page_only(app, client, factory, auth):
    wizard(client, factory, auth, "info")
    client.post("/family/add/info", data={"name": "李小明", "id_number": "1", "relation": "child"})
    # Another page does not pick them up (and does not consume them).
    assert "身份证号应为18位" not in client.get("/family/add/notice").get_data(as_text=True)
    assert "身份证号应为18位" in client.get("/family/add/info").get_data(as_text=True)


def test_mark_all_read_always_says_what_happened(app, client, factory):
    from webapp.extensions import db
    from webapp.messages import services as messages

    user = factory.user()
    messages.send(user.person, "测试消息", "正文")
    db.session.commit()
    login(client, user)
    r = client.post("/messages/read-all")
    assert r.status_code == 302 and r.headers["Location"].endswith("/messages/")
    assert "已将1条消息标为已读" in client.get("/messages/").get_data(as_text=True)
    r = client.post("/messages/read-all", follow_redirects=True)
    assert "没有未读消息" in r.get_data(as_text=True)
