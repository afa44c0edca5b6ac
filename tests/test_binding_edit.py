"""管理家人 → 编辑: phone and relation of an 已绑定 binding after the holder's face check; the
policy's relations and the material on file still rule; both sides told; audited old → new;
nobody else's binding; a replayed or concurrent save changes nothing twice."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from tests import kinship_factories as kf
from tests.helpers import run_concurrently
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db
from webapp.kinship import edit
from webapp.models import AuditLog, FaceCheck, KinshipBinding, Message

PURPOSE = edit.PURPOSE
FORM = "application/x-www-form-urlencoded"


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def family(factory, auth):
    """A 42-year-old holder (logged in) with an 8-year-old child bound by birth certificate."""
    holder = factory.user(name="张建国", age=42)
    child = factory.person(name="张小明", age=8)
    b = kf.binding(holder.person, child, "child")
    b.material_id = kf.material(holder.person, "hukou").id
    b.phone = "13900000001"
    db.session.commit()
    auth.login(holder.phone)
    return holder, child, b


def url(b: KinshipBinding, tail: str = "") -> str:
    return f"/family/members/{b.public_id}/edit{tail}"


def edits() -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == "kinship.edited")))


def titles(person) -> list[str]:
    return list(db.session.scalars(select(Message.title).where(
        Message.recipient_person_id == person.id).order_by(Message.id)))


def fill(client, b, relation="child", phone="13812345678", follow=False):
    """The form step (the holder holds a pass): relation and phone → the confirm page (a
    refused form: 303 back to the form, ``follow`` to read it)."""
    return client.post(url(b), data={"relation": relation, "phone": phone,
                                      "version": str(b.version)}, follow_redirects=follow)


def test_member_page_offers_edit_for_active_binding_only(client, family, factory):
    holder, _, b = family
    page = html(client.get(f"/family/members/{b.public_id}"))
    assert url(b) in page and ">编辑<" in page
    pending = kf.binding(holder.person, factory.person(name="王秀英", age=68, male=False),
                         "parent", status="pending_review")
    assert url(pending) not in html(client.get(f"/family/members/{pending.public_id}"))


def test_happy_path_face_form_confirm_save(client, family):
    holder, child, b = family
    first = html(client.get(url(b)))
    assert "人脸识别后编辑" in first and 'name="phone"' not in first
    started = client.post(url(b, "/face"))
    assert re.search(r"/face/[\w-]+$", started.headers["Location"])
    check = db.session.scalar(select(FaceCheck).where(FaceCheck.purpose == PURPOSE))
    assert check.next_url == url(b)
    kf.face_pass(holder.person, PURPOSE)
    form = html(client.get(url(b)))
    assert 'name="phone"' in form and 'value="13900000001"' in form
    confirm = fill(client, b, phone="13812345678")
    assert confirm.headers["Location"].endswith(url(b, "/confirm"))
    page = html(client.get(url(b, "/confirm")))
    assert "139****0001" in page and "138****5678" in page and "确认保存" in page
    assert db.session.get(KinshipBinding, b.id).phone == "13900000001"  # not saved yet
    done = client.post(url(b, "/confirm"))
    assert done.headers["Location"].endswith(f"/family/members/{b.public_id}")
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).phone == "13812345678"
    assert "修改已保存" in html(client.get(done.headers["Location"]))


def test_face_check_is_required_to_save(client, family):
    holder, _, b = family
    kf.face_pass(holder.person, PURPOSE)
    fill(client, b, phone="13812345678")
    db.session.execute(update(FaceCheck).values(consumed_at=clock.now()))
    db.session.commit()
    page = html(client.post(url(b, "/confirm")))
    assert "人脸识别后保存" in page
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).phone == "13900000001" and not edits()
    # the service refuses on its own without a pass
    with pytest.raises(DomainError) as err:
        edit.edit_binding(b, holder.person, "13812345678", "child", b.version, Actor(holder))
    assert err.value.code == "face_required"
    # after a new pass the kept draft saves
    started = client.post(url(b, "/face"), data={"then": "confirm"})
    assert started.status_code == 302
    assert db.session.scalars(select(FaceCheck.next_url).where(
        FaceCheck.result == "pending")).all() == [url(b, "/confirm")]
    kf.face_pass(holder.person, PURPOSE)
    client.post(url(b, "/confirm"))
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).phone == "13812345678"


def test_bad_phone_is_refused_and_the_input_kept(client, family):
    holder, _, b = family
    kf.face_pass(holder.person, PURPOSE)
    assert fill(client, b, relation="child", phone="1234").status_code == 303  # PRG
    page = html(fill(client, b, relation="child", phone="1234", follow=True))
    assert "请输入11位手机号" in page and 'value="1234"' in page
    with pytest.raises(DomainError) as err:
        edit.check_edit(b, "12345678901", "child")
    assert err.value.field == "phone"
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).phone == "13900000001"


def test_relation_outside_the_policy_or_the_rules_is_refused(client, family, factory):
    holder, child, b = family
    kf.face_pass(holder.person, PURPOSE)
    # 孙子女 is not a relation of the holder's region (江西)
    page = html(fill(client, b, relation="grandchild", follow=True))
    assert "请选择可添加的关系" in page
    # an 8-year-old cannot be the holder's parent (age order from the policy)
    page = html(fill(client, b, relation="parent", follow=True))
    assert "父母的年龄应大于您的年龄" in page
    # a birth certificate on file cannot prove 配偶
    b.material_id = kf.material(holder.person, "birth_cert").id
    db.session.commit()
    with pytest.raises(DomainError) as err:
        edit.check_edit(db.session.get(KinshipBinding, b.id), "", "spouse")
    assert err.value.code == "material"
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).relation == "child" and not edits()


def test_material_on_file_must_prove_the_new_relation(factory):
    holder = factory.user(name="李强", age=40)
    wife = factory.person(name="王芳", age=38, male=False)
    b = kf.binding(holder.person, wife, "parent")  # typed wrong: she is his wife
    b.material_id = kf.material(holder.person, "id_card").id
    db.session.commit()
    with pytest.raises(DomainError) as err:
        edit.check_edit(b, "", "spouse")
    assert err.value.code == "material" and "解除绑定后重新添加" in err.value.message
    b.material_id = kf.material(holder.person, "hukou").id
    db.session.commit()
    assert edit.check_edit(b, "", "spouse").relation == "spouse"


def test_other_familys_binding_is_404(client, family, factory):
    _, _, b = family
    stranger = factory.user(name="赵六", age=50)
    other = kf.binding(stranger.person, factory.person(name="赵小六", age=9), "child")
    for path in (url(other), url(other, "/confirm")):
        assert client.get(path).status_code == 404
    assert client.post(url(other, "/face")).status_code == 404
    assert client.post(url(other, "/confirm")).status_code == 404
    # the relative may not edit the binding that names them either
    client.post("/auth/logout")
    with pytest.raises(NotFound):
        edit.edit_binding(b, stranger.person, "13812345678", "child", b.version,
                          Actor(stranger))


@pytest.mark.parametrize("status", ["pending_confirm", "pending_review", "ended", "rejected"])
def test_binding_not_active_is_refused(client, family, factory, status):
    holder, _, _ = family
    b = kf.binding(holder.person, factory.person(name="王秀英", age=68, male=False), "parent",
                   status=status)
    kf.face_pass(holder.person, PURPOSE)
    answer = client.get(url(b))
    assert answer.status_code == 302
    assert "只有已绑定的家庭成员可以编辑信息" in html(client.get(answer.headers["Location"]))
    assert fill(client, b, relation="parent").status_code == 302
    assert client.post(url(b, "/face")).status_code == 302
    assert not db.session.scalars(select(FaceCheck).where(FaceCheck.result == "pending")).all()
    with pytest.raises(Conflict):
        edit.edit_binding(b, holder.person, "13812345678", "parent", b.version, Actor(holder))
    assert not edits()


def test_both_sides_are_told(client, family):
    holder, child, b = family
    kf.face_pass(holder.person, PURPOSE)
    before_h, before_m = len(titles(holder.person)), len(titles(child))
    fill(client, b, phone="13812345678")
    client.post(url(b, "/confirm"))
    assert titles(holder.person)[before_h:] == ["已修改张*明的绑定信息"]
    assert titles(child)[before_m:] == ["张*国修改了与您的绑定信息"]
    body = db.session.scalar(select(Message.body).where(Message.recipient_person_id == child.id)
                             .order_by(Message.id.desc()))
    assert "联系电话由“139****0001”改为“138****5678”" in body


def test_audit_row_has_old_and_new_values(family):
    holder, child, b = family
    b.material_id = kf.material(holder.person, "hukou").id
    db.session.commit()
    kf.face_pass(holder.person, PURPOSE)
    edit.edit_binding(b, holder.person, "", "child", b.version, Actor(holder))
    (row,) = edits()
    assert row.actor_user_id == holder.id and row.subject_person_id == child.id
    assert row.target_id == b.public_id
    assert json.loads(row.detail) == {"changes": {"phone": {"old": "13900000001", "new": ""}}}


def test_unchanged_form_saves_nothing(client, family):
    holder, _, b = family
    kf.face_pass(holder.person, PURPOSE)
    assert "您没有修改任何信息" in html(fill(client, b, phone="13900000001", follow=True))


def test_replayed_post_saves_once(client, family):
    holder, child, b = family
    kf.face_pass(holder.person, PURPOSE, count=2)
    fill(client, b, phone="13812345678")
    first = client.post(url(b, "/confirm"))
    again = client.post(url(b, "/confirm"))
    assert first.status_code == again.status_code == 302
    assert len(edits()) == 1
    assert titles(child).count("张*国修改了与您的绑定信息") == 1
    # a stale version (the page seen before the save) is refused by the service too
    with pytest.raises(Conflict):
        edit.edit_binding(b, holder.person, "13700000000", "child", 1, Actor(holder))
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).phone == "13812345678"


def test_concurrent_edits_one_wins(pg_app):
    from tests import factories

    holder = factories.user(name="张建国", age=42)
    b = kf.binding(holder.person, factories.person(name="张小明", age=8), "child")
    kf.face_pass(holder.person, PURPOSE, count=4)
    bid, hid, seen = b.id, holder.person.id, b.version

    def work(i: int):
        from webapp.models import InsuredPerson, User

        row = db.session.get(KinshipBinding, bid)
        person = db.session.get(InsuredPerson, hid)
        user = db.session.scalar(select(User).where(User.person_id == hid))
        edit.edit_binding(row, person, f"1381234567{i}", "child", seen, Actor(user))
        return "ok"

    results = run_concurrently(pg_app, 4, work)
    assert sorted(results) == ["changed"] * 3 + ["ok"]
    db.session.expire_all()
    assert len(edits()) == 1


@pytest.mark.parametrize("value", ["\x00", "\ud800", "x" * 10_000, "9" * 30, "-1", "１３８", ""])
def test_nasty_input_never_500s(client, family, value):
    holder, _, b = family
    kf.face_pass(holder.person, PURPOSE)
    for data in ({"relation": value, "phone": "13812345678", "version": "1"},
                 {"relation": "child", "phone": value, "version": "1"},
                 {"relation": "child", "phone": "13812345678", "version": value}):
        body = urlencode(data, encoding="utf-8", errors="surrogatepass")
        assert client.post(url(b), data=body, content_type=FORM).status_code in (303, 302, 400)
    body = urlencode({"then": value}, encoding="utf-8", errors="surrogatepass")
    assert client.post(url(b, "/face"), data=body, content_type=FORM).status_code in (302, 400)
    assert client.post(url(b, "/confirm")).status_code in (302, 400)
    segment = value[:50].encode("utf-8", "ignore").decode() or "x"  # a path must encode
    assert client.get(f"/family/members/{segment}/edit").status_code in (400, 404)


def test_the_wizard_keeps_the_phone_it_asks_for(factory):
    from webapp.kinship import services as kinship

    holder = factory.user(name="李华", age=35)
    child = factory.person(name="李小明", age=8)
    kf.face_pass(holder.person)
    done = kinship.complete_binding(
        holder.person, child.name, child.id_number, "child",
        kf.material(holder.person, "birth_cert"), holder.person.name, kf.signature_data_url(),
        Actor(holder), phone="13812345678")
    assert db.session.get(KinshipBinding, done.binding.id).phone == "13812345678"
