"""The add-member wizard over HTTP: steps in order, messages on fields, back and resume,
the live preview, completion re-checking the rules, the result page, private letters."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from tests.helpers import refused_page
from webapp import clock
from webapp.extensions import db
from webapp.models import AuditLog, Invitation, KinshipBinding, KinshipMaterial

ADD = "/family/add/"
NOTICE = "/family/add/notice"
INFO = "/family/add/info"
MATERIAL = "/family/add/material"
LETTER = "/family/add/letter"
RESULT = "/family/add/result"
PREVIEW = "/family/add/preview"


@pytest.fixture
def holder(factory, auth):
    """A logged-in 35-year-old holder (Jiangxi) with a fresh face pass; returns the person."""
    user = factory.user(name="李华", age=35)
    assert auth.login(user.phone).status_code == 302
    kf.face_pass(user.person)
    return user.person


@pytest.fixture
def child(factory):
    return factory.person(name="李小明", age=8)


def agree(client):
    return refused_page(client, client.post(NOTICE, data={"agree": "y"}))


def fill(client, name, id_number, relation="child", phone="", **extra):
    return refused_page(client, client.post(INFO, data={
        "name": name, "id_number": id_number, "relation": relation, "phone": phone, **extra}))


def upload(client, data=None, filename="proof.png", material_type="birth_cert"):
    data = kf.png_bytes() if data is None else data
    return refused_page(client, client.post(
        MATERIAL, data={"material_type": material_type, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data"))


def sign(client, typed="李华", signature=None):
    signature = kf.signature_data_url() if signature is None else signature
    return refused_page(client, client.post(LETTER, data={"typed_name": typed,
                                                          "signature": signature}))


def to_letter(client, member, relation="child", material_type="birth_cert"):
    """Walk the notice, info and material steps for the member."""
    assert agree(client).headers["Location"].endswith(INFO)
    r = fill(client, member.name, member.id_number, relation)
    assert r.status_code == 302, r.get_data(as_text=True)
    r = upload(client, material_type=material_type)
    assert r.headers["Location"].endswith(LETTER), r.get_data(as_text=True)


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, field: str) -> str:
    """The text of a field's error element."""
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</div>', page, re.S)
    return m.group(1) if m else ""


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def flashes(client) -> list[str]:
    with client.session_transaction() as s:
        return [m for _, m in s.get("_flashes", [])]


# --- order of the steps, face check ----------------------------------------------------------

def test_start_page_shows_counter_and_starts_with_face_check(client, factory, auth):
    user = factory.user(name="李华", age=35)
    auth.login(user.phone)
    page = html(client.get(ADD))
    assert "已绑定 0/5" in page and "开始添加" in page
    r = client.post(ADD, data={"start": "1"})
    assert r.status_code == 302 and "/face/" in r.headers["Location"]
    kf.face_pass(user.person)
    r = client.post(ADD, data={"start": "1"})
    assert r.headers["Location"].endswith(NOTICE)


def test_full_holder_is_told_at_the_start(client, holder, factory):
    for i in range(5):
        kf.binding(holder, factory.person(name=f"成员{i}", age=3 + i), status="pending_confirm")
    page = html(client.get(ADD))
    assert "已达上限" in page and "开始添加" not in page


def test_later_step_without_face_pass_goes_back_to_face_check(client, holder):
    agree(client)
    clock.shift(timedelta(minutes=6))  # the pass is good for 5 minutes
    r = client.get(INFO)
    assert r.status_code == 302 and "/face/" in r.headers["Location"]
    assert "人脸识别已超过有效时间，请重新完成人脸识别，已填写的内容会保留" in flashes(client)


def test_a_step_before_starting_leads_to_the_start_page(client, factory, auth):
    user = factory.user(name="李华", age=35)
    auth.login(user.phone)
    assert client.get(INFO).headers["Location"].endswith(ADD)
    assert client.get(LETTER).headers["Location"].endswith(ADD)


def test_steps_cannot_be_skipped(client, holder, child):
    assert client.get(MATERIAL).headers["Location"].endswith(NOTICE)
    agree(client)
    assert client.get(LETTER).headers["Location"].endswith(INFO)
    fill(client, child.name, child.id_number)
    assert client.get(LETTER).headers["Location"].endswith(MATERIAL)


def test_foreign_roles_cannot_use_the_wizard(client, factory, auth):
    staff = factory.staff("reviewer")
    auth.login(staff.phone)
    assert client.get(ADD).status_code == 403


def test_notice_must_be_agreed_and_is_audited(client, holder):
    page = html(refused_page(client, client.post(NOTICE, data={})))
    assert "请阅读并勾选同意告知书" in page
    assert "家庭成员添加告知书" in page and "最多可添加5名家庭成员" in page
    assert agree(client).headers["Location"].endswith(INFO)
    row = db.session.scalar(select(AuditLog).filter_by(action="kinship.notice_agreed"))
    assert row is not None and "2026-01" in row.detail


# --- info step: each rule on its field -------------------------------------------------------

def _case(factory, holder, kind):
    """Set up one refusal; returns (name, id_number, relation, field, message)."""
    if kind == "self":
        return holder.name, holder.id_number, "child", "id_number", "不能添加本人"
    if kind == "child_older":
        p = factory.person(name="李大", age=50)
        return p.name, p.id_number, "child", "relation", "子女的年龄应小于您的年龄"
    if kind == "parent_younger":
        p = factory.person(name="李幼", age=5)
        return p.name, p.id_number, "parent", "relation", "父母的年龄应大于您的年龄"
    if kind == "relation":
        p = factory.person(name="李祖", age=80)
        return p.name, p.id_number, "grandparent", "relation", "请选择可添加的关系"
    if kind == "check_char":
        return "李小明", "360102201501010010", "child", "id_number", "身份证号校验位错误，请核对"
    if kind == "not_found":
        p = factory.person(name="李小明", age=8)
        return "李晓明", p.id_number, "child", "id_number", \
            "未找到该家庭成员的参保信息，请核对姓名和身份证号"
    if kind == "not_insured":
        p = factory.person(name="李小明", age=8, status="suspended")
        return p.name, p.id_number, "child", "id_number", "该家庭成员未处于参保状态"
    if kind == "duplicate":
        p = factory.person(name="李小明", age=8)
        kf.binding(holder, p, status="pending_review")
        return p.name, p.id_number, "child", "id_number", "该家庭成员已添加，请勿重复添加"
    if kind == "third_holder":
        p = factory.person(name="李小明", age=8)
        kf.binding(factory.person(name="父亲", age=40), p)
        kf.binding(factory.person(name="母亲", age=38), p)
        return p.name, p.id_number, "child", "id_number", "该家庭成员本月已被2人添加，请下月再试"
    if kind == "sixth":
        for i in range(3):
            kf.binding(holder, factory.person(name=f"成员{i}", age=3 + i))
        for i in range(2):
            kf.binding(holder, factory.person(name=f"待定{i}", age=6 + i), status="pending_confirm")
        p = factory.person(name="李小明", age=8)
        return p.name, p.id_number, "child", None, \
            "您最多可添加5名家庭成员（含待确认、待审核），当前已添加5名"
    raise AssertionError(kind)


RULES = ["self", "child_older", "parent_younger", "relation", "check_char", "not_found",
         "not_insured", "duplicate", "third_holder", "sixth"]


@pytest.mark.parametrize("kind", RULES)
def test_info_step_refuses_on_the_right_field(client, holder, factory, kind):
    name, number, relation, field, message = _case(factory, holder, kind)
    agree(client)
    r = fill(client, name, number, relation)
    page = html(r)
    assert r.status_code == 200
    if field:
        assert message in field_error(page, field)
    else:
        assert re.search(rf'class="weui-cells__tips app-error"[^>]*>\s*<p>{message}</p>', page)
    assert client.get(MATERIAL).headers["Location"].endswith(INFO)


def test_info_step_stores_nothing_and_moves_on(client, holder, child):
    agree(client)
    r = fill(client, child.name, " " + child.id_number.lower() + " ", phone="13812345678")
    assert r.headers["Location"].endswith(MATERIAL)
    assert count(KinshipBinding) == 0


def test_without_js_the_preview_appears_after_submitting(client, holder, factory):
    adult = factory.person(name="李成", age=20)
    kf.binding(holder, adult, status="pending_confirm")
    agree(client)
    page = html(fill(client, adult.name, adult.id_number))
    assert "已满16周岁，需本人确认" in page
    assert "已绑定 1/5" in page
    assert "可上传：出生医学证明、户口本" in page
    assert "参保状态：参保中" in page


# --- back and resume -------------------------------------------------------------------------

def test_back_keeps_what_was_typed(client, holder, child):
    agree(client)
    r = fill(client, child.name, child.id_number, phone="1381234", back="1")
    assert r.headers["Location"].endswith(NOTICE)
    page = html(client.get(INFO))
    assert f'value="{child.id_number}"' in page and 'value="1381234"' in page
    fill(client, child.name, child.id_number)
    page = html(client.get(INFO))
    assert f'value="{child.name}"' in page
    assert re.search(r'<option selected value="child">|<option value="child" selected', page)


def test_leaving_half_way_and_coming_back_resumes(client, holder, child):
    agree(client)
    fill(client, child.name, child.id_number)
    upload(client)
    page = html(client.get(ADD))
    assert "继续添加" in page and "重新开始" in page
    assert client.post(ADD, data={"start": "1"}).headers["Location"].endswith(LETTER)
    clock.shift(timedelta(minutes=6))
    r = client.post(ADD, data={"start": "1"})
    assert "/face/" in r.headers["Location"]
    check = r.headers["Location"]
    kf.face_pass(holder)
    page = html(client.get(LETTER))
    assert "个人承诺书" in page and check


def test_restart_clears_the_draft_and_its_upload(client, holder, child, app):
    from pathlib import Path

    agree(client)
    fill(client, child.name, child.id_number)
    upload(client)
    material = db.session.scalar(select(KinshipMaterial))
    path = Path(app.config["UPLOAD_FOLDER"]) / material.stored_name
    assert path.is_file()
    r = client.post(ADD, data={"restart": "1"})
    assert r.headers["Location"].endswith(ADD)
    assert count(KinshipMaterial) == 0 and not path.exists()
    assert "继续添加" not in html(client.get(ADD))
    assert client.get(INFO).headers["Location"].endswith(NOTICE)


def test_changing_the_relative_drops_the_old_upload(client, holder, child, factory):
    agree(client)
    fill(client, child.name, child.id_number)
    upload(client)
    other = factory.person(name="李小红", age=6, male=False)
    fill(client, other.name, other.id_number)
    assert count(KinshipMaterial) == 0
    assert client.get(LETTER).headers["Location"].endswith(MATERIAL)


# --- the live preview ------------------------------------------------------------------------

def test_preview_says_it_before_it_fails(client, holder, factory):
    agree(client)
    teen = factory.person(name="李青", age=17)
    data = client.post(PREVIEW, data={"name": "李青", "id_number": teen.id_number,
                                      "relation": "child"}).get_json()
    assert data == {
        "age": "已满16周岁，需本人确认",
        "insured": "参保中",
        "counter": "已绑定 0/5",
        "materials": "可上传：出生医学证明、户口本",
        "refusal": "",
        "field": "",
        "ok": True,
    }


def test_preview_gives_no_personal_data_without_a_match(client, holder, factory):
    other = factory.person(name="王五", age=40, status="suspended")
    r = client.post(PREVIEW, data={"name": "猜一猜", "id_number": other.id_number,
                                   "relation": "parent"})
    data = r.get_json()
    assert r.headers["Cache-Control"] == "private, no-store"
    assert data["insured"] == ""
    assert data["refusal"] == "未找到该家庭成员的参保信息，请核对姓名和身份证号"
    assert "王五" not in r.get_data(as_text=True)


def test_preview_needs_a_face_checked_wizard(client, factory, auth):
    user = factory.user(name="李华", age=35)
    auth.login(user.phone)
    r = client.post(PREVIEW, data={"id_number": "x"})
    assert r.status_code == 403 and r.get_json()["error"]["message"] == "请先完成人脸识别"


def test_preview_needs_csrf(client, holder, app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(PREVIEW, data={"id_number": "x"}).status_code == 400
        client.post(NOTICE)  # no token either
        page = html(client.get(ADD))
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        r = client.post(PREVIEW, data={"id_number": "x"}, headers={"X-CSRFToken": token})
        assert r.status_code == 200 and r.get_json()["refusal"] == "身份证号应为18位"
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_preview_is_rate_limited(client, holder):
    codes = [client.post(PREVIEW, data={"id_number": "1"}).status_code for _ in range(31)]
    assert codes[:30] == [200] * 30 and codes[30] == 429


# --- completion re-checks everything ---------------------------------------------------------

def _change(kind, factory, holder, child):
    if kind == "duplicate":
        kf.binding(holder, child, status="pending_confirm")
        return "该家庭成员已添加，请勿重复添加"
    if kind == "sixth":
        for i in range(5):
            kf.binding(holder, factory.person(name=f"成员{i}", age=3 + i))
        return "您最多可添加5名家庭成员（含待确认、待审核），当前已添加5名"
    if kind == "third_holder":
        kf.binding(factory.person(name="父亲", age=40), child)
        kf.binding(factory.person(name="母亲", age=38), child, status="declined")
        return "该家庭成员本月已被2人添加，请下月再试"
    if kind == "not_insured":
        child.status = "suspended"
    if kind == "renamed":
        child.name = "李晓明"
    db.session.commit()
    return {"not_insured": "该家庭成员未处于参保状态",
            "renamed": "未找到该家庭成员的参保信息，请核对姓名和身份证号"}[kind]


@pytest.mark.parametrize("kind", ["duplicate", "sixth", "third_holder", "not_insured", "renamed"])
def test_completion_rechecks_rules_changed_since_the_form(client, holder, child, factory, kind):
    to_letter(client, child)
    message = _change(kind, factory, holder, child)
    before = count(KinshipBinding)
    r = sign(client)
    assert r.status_code == 200
    assert message in html(r)
    assert count(KinshipBinding) == before
    from webapp.face import services as face

    assert face.has_pass(holder, "kinship_add")  # rolled back: the pass is not spent


@pytest.mark.parametrize("typed,signature,field,message", [
    ("李四", None, "typed_name", "请输入您的真实姓名"),
    ("李华", "", "signature", "请在签名区域手写签名"),
])
def test_letter_step_field_messages(client, holder, child, typed, signature, field, message):
    to_letter(client, child)
    page = html(sign(client, typed, signature))
    assert message in page
    assert count(KinshipBinding) == 0
    assert f'value="{typed}"' in page


# --- outcomes and the result page ------------------------------------------------------------

def test_child_under_16_walks_through_to_bound(client, holder, child):
    page = html(client.get(ADD))
    to_letter(client, child)
    page = html(client.get(LETTER))
    assert "个人承诺书" in page and "本承诺书经本人签名后生效" in page and "李*明（子女）" in page
    r = sign(client)
    assert r.headers["Location"].endswith(RESULT)
    page = html(client.get(RESULT))
    assert "添加成功" in page and "李*明（子女）已绑定" in page
    b = db.session.scalar(select(KinshipBinding))
    assert b.status == "active" and b.holder_person_id == holder.id
    assert "继续添加" not in html(client.get(ADD))  # the draft is gone
    assert client.get(f"/family/letters/{b.letter.public_id}").status_code == 200


def test_relative_of_16_gets_link_qr_and_copy_button(client, holder, factory):
    mother = factory.person(name="张秀英", age=60, male=False)
    to_letter(client, mother, "parent", material_type="hukou")
    assert sign(client).headers["Location"].endswith(RESULT)
    page = html(client.get(RESULT))
    inv = db.session.scalar(select(Invitation))
    assert inv is not None and count(Invitation) == 1
    link = re.search(r'data-copy="(http[^"]+/i/[^"]+)"', page).group(1)
    assert "邀请已生成" in page and "复制链接" in page
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert "style=" not in svg and "<path" in svg
    assert link in page and "复制邀请文字" in page
    # the token is shown on this page only: starting a new addition forgets it
    client.post(ADD, data={"start": "1"})
    assert link not in html(client.get(RESULT))


def test_result_page_without_a_result_goes_to_family(client, holder):
    r = client.get(RESULT)
    assert r.status_code == 302


# --- private letters -------------------------------------------------------------------------

def test_letter_is_private_to_its_signer_and_reviewers(client, holder, child, factory, auth):
    to_letter(client, child)
    sign(client)
    letter = db.session.scalar(select(KinshipBinding)).letter
    url = f"/family/letters/{letter.public_id}"
    r = client.get(url)
    assert r.status_code == 200 and "李华" in html(r) and "文本校验一致" in html(r)
    sig = client.get(url + "/signature.png")
    assert sig.status_code == 200 and sig.mimetype == "image/png"
    assert sig.headers["Cache-Control"] == "private, no-store"
    stranger = factory.user(name="王五", age=30)
    auth.logout()
    auth.login(stranger.phone)
    assert client.get(url).status_code == 404
    assert client.get(url + "/signature.png").status_code == 404
    auth.logout()
    reviewer = factory.staff("reviewer", name="审核员")
    auth.login(reviewer.phone)
    assert client.get(url).status_code == 200
    assert client.get(url + "/signature.png").status_code == 200
