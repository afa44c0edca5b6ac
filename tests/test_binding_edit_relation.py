"""管理家人 → 编辑, the relation: where the region reviews proof material (江苏) the relation is
what the reviewer approved, so it is not editable (the page says so before saving, a posted
change is refused with the way to new proof); elsewhere a 家庭共济 membership of the same two
people follows the new relation in the same transaction, with an aid audit row shown in
共济授权记录 — or the edit is refused when 共济 does not allow the relation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests import kinship_factories as kf
from tests.test_aid_rules import JIANGSU, add, make_owner, open_group
from webapp.aid import history
from webapp.aid.relation import ACTION
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.kinship import edit
from webapp.models import AidMember, AuditLog, KinshipBinding, Message

PURPOSE = edit.PURPOSE


def html(response) -> str:
    return response.get_data(as_text=True)


def url(b: KinshipBinding, tail: str = "") -> str:
    return f"/family/members/{b.public_id}/edit{tail}"


def couple(factory, region: str | None = None, relation: str = "child"):
    """A 40-year-old holder who bound his 38-year-old wife as ``relation`` (typed wrong),
    with a 户口本 on file (it proves 配偶 too)."""
    kw = {"region": region} if region else {}
    holder = make_owner(factory, name="李强", age=40, **kw)
    wife = factory.person(name="王芳", age=38, male=False, **kw)
    b = kf.binding(holder.person, wife, relation)
    b.material_id = kf.material(holder.person, "hukou").id
    db.session.commit()
    return holder, wife, b


def relation_of(b: KinshipBinding) -> str:
    db.session.expire_all()
    return db.session.get(KinshipBinding, b.id).relation


# --- a region that reviews the proof -------------------------------------------------------

def test_reviewed_region_refuses_a_relation_change_with_the_way_to_new_proof(factory):
    holder, _, b = couple(factory, region=JIANGSU)
    with pytest.raises(DomainError) as err:
        edit.check_edit(b, "", "spouse")
    assert err.value.code == "reviewed" and err.value.field == "relation"
    assert "解除绑定后重新添加" in err.value.message and "待审核" in err.value.message
    kf.face_pass(holder.person, PURPOSE)
    with pytest.raises(DomainError):
        edit.edit_binding(b, holder.person, "", "spouse", b.version, Actor(holder))
    assert relation_of(b) == "child"
    assert not db.session.scalars(select(AuditLog).where(AuditLog.action == "kinship.edited")).all()


def test_reviewed_region_page_says_so_before_saving_and_phone_still_edits(client, auth, factory):
    holder, _, b = couple(factory, region=JIANGSU)
    auth.login(holder.phone)
    assert "不能直接修改" in html(client.get(url(b)))  # step 1, before the face check
    kf.face_pass(holder.person, PURPOSE)
    form = html(client.get(url(b)))
    assert "不能直接修改" in form and "解除绑定后重新添加" in form
    assert "<select" not in form and 'name="relation" value="child"' in form  # shown, kept
    refused = client.post(url(b), data={"relation": "spouse", "phone": "",
                                        "version": str(b.version)}, follow_redirects=True)
    assert "不能直接修改" in html(refused) and relation_of(b) == "child"
    # the phone is not what the reviewer approved: it still edits
    client.post(url(b), data={"relation": "child", "phone": "13812345678",
                              "version": str(b.version)})
    assert client.post(url(b, "/confirm")).status_code == 302
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).phone == "13812345678"


def test_other_regions_still_edit_the_relation(factory):
    holder, _, b = couple(factory)
    assert edit.check_edit(b, "", "spouse").relation == "spouse"


# --- the 家庭共济 membership of the same two people ------------------------------------------

def test_aid_membership_follows_the_relation_with_an_aid_audit_row(client, auth, factory):
    holder, wife, b = couple(factory)
    open_group(holder)
    member = add(holder.person, wife, "child").member
    auth.login(holder.phone)
    kf.face_pass(holder.person, PURPOSE)
    assert "家庭共济中的关系同步修改" in html(client.get(url(b)))  # told before saving
    client.post(url(b), data={"relation": "spouse", "phone": "", "version": str(b.version)})
    confirm = html(client.get(url(b, "/confirm")))
    assert "家庭共济" in confirm and "关系同步改为" in confirm
    assert client.post(url(b, "/confirm")).status_code == 302
    db.session.expire_all()
    assert relation_of(b) == "spouse"
    assert db.session.get(AidMember, member.id).relation == "spouse"
    (row,) = db.session.scalars(select(AuditLog).where(AuditLog.action == ACTION))
    assert row.target_id == member.public_id and row.actor_user_id == holder.id
    assert json.loads(row.detail)["old"] == "child" and json.loads(row.detail)["new"] == "spouse"
    member = db.session.get(AidMember, member.id)
    events = [(e.what, e.detail) for e in history.events(member, holder.person)]
    assert ("修改关系", "子女 → 配偶") in events
    body = db.session.scalar(select(Message.body).where(Message.recipient_person_id == wife.id)
                             .order_by(Message.id.desc()))
    assert "家庭共济中的关系同步修改" in body
    history_page = html(client.get(f"/aid/members/{member.public_id}/history"))
    assert "修改关系" in history_page and "子女 → 配偶" in history_page


def test_relation_aid_does_not_allow_refuses_the_edit_and_changes_nothing(factory):
    # 江西 binds a 法定监护人 in 亲情账户, but 共济 is for 近亲属 only
    holder, wife, b = couple(factory)
    open_group(holder)
    member = add(holder.person, wife, "child").member
    with pytest.raises(DomainError) as err:
        edit.check_edit(b, "", "guardian")
    assert err.value.code == "aid_relation" and "家庭共济" in err.value.message
    db.session.expire_all()
    assert db.session.get(AidMember, member.id).relation == "child" and relation_of(b) == "child"


def test_a_group_the_relative_owns_is_not_touched(factory):
    holder = make_owner(factory, name="李强", age=40)
    wife = make_owner(factory, name="王芳", age=38, male=False)
    b = kf.binding(holder.person, wife.person, "child")
    b.material_id = kf.material(holder.person, "hukou").id
    db.session.commit()
    open_group(wife)
    theirs = add(wife.person, holder.person, "spouse").member
    assert edit.check_edit(b, "", "spouse").aid_members == ()
    kf.face_pass(holder.person, PURPOSE)
    edit.edit_binding(b, holder.person, "", "spouse", b.version, Actor(holder))
    db.session.expire_all()
    assert db.session.get(AidMember, theirs.id).relation == "spouse"
    assert not db.session.scalars(select(AuditLog).where(AuditLog.action == ACTION)).all()
