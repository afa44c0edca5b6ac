"""家庭共济 rules: who may open a group, whom they may add, limits by region, the lifecycle.

Each rule of DESIGN.md's 共济 rows has a test that checks its Chinese message; the helpers at
the top are shared by the other test_aid_* modules.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import kinship_factories as kf
from webapp import clock
from webapp.aid import queries, rules, steps
from webapp.aid import services as aid
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.models import AidGroup, AidMember, AuditLog, Invitation, Message

JIANGXI, JIANGSU, HAINAN, ZHEJIANG = "360102", "320102", "460102", "330102"


# ---- helpers shared by the 家庭共济 tests ---------------------------------------------------

def make_owner(factory, region: str = JIANGXI, balance_fen: int = 10000, name: str = "王建国",
               **kw):
    """An insured user (35, 职工医保) who may own a group."""
    return factory.user(name=name, region=region, balance_fen=balance_fen, **kw)


def open_group(user) -> AidGroup:
    """Create the user's group through the service (face pass given)."""
    kf.face_pass(user.person, rules.CREATE_PURPOSE)
    return aid.create_group(user.person, True, Actor(user=user))


def add(owner_person, person, relation: str = "child", **kw) -> aid.Added:
    """Add ``person`` by name + ID number as the owner."""
    return aid.add_member(owner_person, relation, Actor(label="test"), name=person.name,
                          id_number=person.id_number, **kw)


def accept(member: AidMember, user=None) -> AidMember:
    """The invitee accepts the newest invitation of the membership (face pass given)."""
    kf.face_pass(member.person, rules.ACCEPT_PURPOSE)
    inv = invitations.latest_for(rules.KIND, member.id)
    invitations.accept(inv, member.person, Actor(user=user, label="test"))
    db.session.refresh(member)
    return member


def refusal(fn, *args, **kwargs) -> DomainError:
    """The DomainError the call raises (the session is left clean)."""
    with pytest.raises(DomainError) as info:
        fn(*args, **kwargs)
    db.session.rollback()
    return info.value


def audit_count(action: str) -> int:
    return db.session.scalar(select(func.count(AuditLog.id)).filter_by(action=action)) or 0


def inbox(person) -> list[str]:
    return list(db.session.scalars(select(Message.title)
                                   .where(Message.recipient_person_id == person.id)
                                   .order_by(Message.id)))


# ---- creating a group ------------------------------------------------------------------------

def test_employee_owner_creates_one_group_after_face_check(app, factory):
    user = make_owner(factory)
    # no face pass → refused, nothing created
    err = refusal(aid.create_group, user.person, True, Actor(user=user))
    assert err.message == "请先完成人脸识别"
    assert queries.group_of(user.person) is None
    err = refusal(aid.create_group, user.person, False, Actor(user=user))
    assert err.message == "请阅读并勾选同意《家庭共济告知书》" and err.field == "agree"

    group = open_group(user)
    assert group.status == "active" and group.owner_person_id == user.person.id
    assert group.notice_version == rules.rules_for(user.person).notice_version
    assert audit_count("aid.group_created") == 1 and audit_count("aid.notice_agreed") == 1
    assert "家庭共济已开通" in inbox(user.person)


def test_second_group_for_one_owner_is_refused(app, factory):
    user = make_owner(factory)
    open_group(user)
    kf.face_pass(user.person, rules.CREATE_PURPOSE)
    err = refusal(aid.create_group, user.person, True, Actor(user=user))
    assert err.message == "您已创建家庭共济组"
    assert db.session.scalar(select(func.count(AidGroup.id))) == 1
    assert queries.can_create(user.person) == "您已创建家庭共济组"


def test_resident_insurance_owner_cannot_create(app, factory):
    user = make_owner(factory, insurance_type="resident", balance_fen=0)
    kf.face_pass(user.person, rules.CREATE_PURPOSE)
    err = refusal(aid.create_group, user.person, True, Actor(user=user))
    assert err.message.startswith("仅职工医保参保人可以开通家庭共济")
    assert queries.group_of(user.person) is None


def test_suspended_owner_cannot_create(app, factory):
    user = make_owner(factory, status="suspended")
    kf.face_pass(user.person, rules.CREATE_PURPOSE)
    assert refusal(aid.create_group, user.person, True, Actor(user=user)).message == \
        "您当前未处于参保状态，不能开通家庭共济"


def test_zero_balance_owner_may_create(app, factory):
    user = make_owner(factory, balance_fen=0)
    group = open_group(user)
    assert group.status == "active"
    body = db.session.scalar(select(Message.body).where(Message.title == "家庭共济已开通"))
    assert "余额为0" in body


def test_notice_numbers_come_from_the_owners_policy(app, factory):
    hainan = make_owner(factory, region=HAINAN)
    text = rules.notice_text(hainan.person)
    assert "最多8名成员" in text and "子女最多3名" in text and "配偶、父母、子女" in text
    assert "兄弟姐妹" not in text and "海南省" in text
    jiangsu = make_owner(factory, region=JIANGSU)
    assert "授权起止日期" in rules.notice_text(jiangsu.person)


# ---- adding members: one test per rule --------------------------------------------------------

def test_child_under_16_joins_at_once(app, factory):
    user = make_owner(factory)
    open_group(user)
    child = factory.person(name="王小明", age=8)
    added = add(user.person, child, "child")
    assert added.token is None
    assert added.member.status == "active" and added.member.joined_at is not None
    assert audit_count("aid.member_added") == 1
    assert "已添加共济成员" in inbox(user.person)
    assert "您已加入家庭共济" in inbox(child)


def test_relative_16_or_older_confirms_through_an_invitation(app, factory):
    user = make_owner(factory)
    open_group(user)
    mother = factory.person(name="李秀英", age=62, male=False)
    added = add(user.person, mother, "parent")
    assert added.token and added.member.status == "pending_confirm"
    inv = invitations.load(added.token)
    assert (inv.kind, inv.target_id, inv.invitee_person_id) == ("aid", added.member.id, mother.id)
    assert audit_count("aid.member_invited") == 1
    assert "王*国邀请您加入家庭共济" in inbox(mother)

    offer = invitations.handler_for("aid").offer(inv)
    assert offer.relation == "您是王*国的父母"
    assert any("个人账户" in line for line in offer.meaning)

    # accepting needs the invitee's own face pass (purpose aid_accept)
    err = refusal(invitations.accept, inv, mother, Actor(label="t"))
    assert err.code == "face_required"
    member = accept(added.member)
    assert member.status == "active" and member.joined_at is not None
    assert audit_count("aid.member_joined") == 1
    assert "李*英已加入家庭共济" in inbox(user.person)


def test_exactly_16_today_confirms_themselves(app, factory):
    user = make_owner(factory)
    open_group(user)
    teen = factory.person(name="王小红", age=16, male=False)
    assert add(user.person, teen, "child").member.status == "pending_confirm"


def test_declining_ends_the_membership(app, factory):
    user = make_owner(factory)
    open_group(user)
    brother = factory.person(name="王建军", age=40)
    added = add(user.person, brother, "sibling")
    invitations.decline(invitations.load(added.token), brother, Actor(label="t"))
    db.session.refresh(added.member)
    assert added.member.status == "declined"
    assert audit_count("aid.member_declined") == 1
    assert "王*军拒绝了共济邀请" in inbox(user.person)


def test_member_in_another_province_is_refused(app, factory):
    user = make_owner(factory, region=JIANGXI)
    open_group(user)
    other = factory.person(name="王小芳", age=8, region=ZHEJIANG)
    err = refusal(add, user.person, other, "child")
    assert err.message == "共济成员须在同一省份参保" and err.field == "id_number"


def test_relation_not_allowed_in_hainan(app, factory):
    """Hainan (seed 004): 配偶、父母、子女 only — a sibling is refused; Jiangxi allows it."""
    user = make_owner(factory, region=HAINAN)
    open_group(user)
    sister = factory.person(name="王建红", age=30, region=HAINAN, male=False)
    err = refusal(add, user.person, sister, "sibling")
    assert err.message == "该地区家庭共济不支持该亲属关系" and err.field == "relation"

    jx = make_owner(factory, region=JIANGXI, name="赵大为")
    open_group(jx)
    sibling = factory.person(name="赵小为", age=30)
    assert add(jx.person, sibling, "sibling").member.status == "pending_confirm"


def test_ninth_member_is_refused(app, factory):
    user = make_owner(factory)
    open_group(user)
    for i in range(8):  # pending members count too
        add(user.person, factory.person(name=f"王小{i}", age=5 + i * 2), "child")
    err = refusal(add, user.person, factory.person(name="王小九", age=3), "child")
    assert err.message == "家庭共济成员已达上限（8人）"
    assert len(queries.open_members(queries.group_of(user.person))) == 8


def test_fourth_child_in_hainan_is_refused(app, factory):
    user = make_owner(factory, region=HAINAN)
    open_group(user)
    for i in range(3):
        add(user.person, factory.person(name=f"王小{i}", age=3 + i, region=HAINAN), "child")
    fourth = factory.person(name="王小四", age=2, region=HAINAN)
    err = refusal(add, user.person, fourth, "child")
    assert err.message == "家庭共济子女成员已达上限（3人）" and err.field == "relation"
    # other relations still fit
    wife = factory.person(name="陈丽", age=33, region=HAINAN, male=False)
    assert add(user.person, wife, "spouse").member.status == "pending_confirm"


def test_member_not_insured_is_refused(app, factory):
    user = make_owner(factory)
    open_group(user)
    father = factory.person(name="王老五", age=66, status="suspended")
    err = refusal(add, user.person, father, "parent")
    assert err.message == "该亲属未处于参保状态，不能加入家庭共济"


def test_resident_insured_relative_may_join(app, factory):
    """Members may have 居民医保: only the owner needs a personal account."""
    user = make_owner(factory)
    open_group(user)
    child = factory.person(name="王小宝", age=6, insurance_type="resident")
    assert add(user.person, child, "child").member.status == "active"


def test_oneself_duplicate_and_unknown_are_refused(app, factory):
    user = make_owner(factory)
    open_group(user)
    assert refusal(add, user.person, user.person, "spouse").message == "不能添加本人"
    child = factory.person(name="王小明", age=8)
    add(user.person, child, "child")
    assert refusal(add, user.person, child, "child").message == \
        "该亲属已在您的家庭共济中，请勿重复添加"
    err = refusal(aid.add_member, user.person, "child", Actor(label="t"), name="王大明",
                  id_number=child.id_number)
    assert err.message == "未找到该亲属的参保信息，请核对姓名和身份证号"
    err = refusal(aid.add_member, user.person, "child", Actor(label="t"), name="王小明",
                  id_number="123")
    assert err.field == "id_number"


def test_relation_must_fit_the_birth_dates(app, factory):
    user = make_owner(factory)
    open_group(user)
    older = factory.person(name="王长者", age=60)
    assert refusal(add, user.person, older, "child").message == "子女的年龄应小于您的年龄"
    younger = factory.person(name="王小妹", age=10, male=False)
    assert refusal(add, user.person, younger, "parent").message == "父母的年龄应大于您的年龄"


def test_adding_needs_a_group(app, factory):
    user = make_owner(factory)
    child = factory.person(name="王小明", age=8)
    assert refusal(add, user.person, child, "child").message == "您还没有开通家庭共济"


def test_pick_from_bound_kinship_relatives(app, factory):
    user = make_owner(factory)
    open_group(user)
    child = factory.person(name="王小明", age=8)
    binding = kf.binding(user.person, child, "child")
    added = aid.add_member(user.person, "child", Actor(label="t"), pick=binding.public_id)
    assert added.member.person_id == child.id and added.member.status == "active"
    stranger_binding = kf.binding(factory.person(name="外人"), factory.person(name="外人孩", age=3))
    err = refusal(aid.add_member, user.person, "child", Actor(label="t"),
                  pick=stranger_binding.public_id)
    assert err.message == "请从已绑定的亲情账户家人中选择"


# ---- the Jiangsu window and cap ----------------------------------------------------------

def test_window_and_cap_only_where_the_policy_allows(app, factory):
    today = clock.today()
    jx = make_owner(factory)
    open_group(jx)
    child = factory.person(name="王小明", age=8)
    err = refusal(add, jx.person, child, "child", starts_on=today, ends_on=today)
    assert err.message == "该地区家庭共济不支持设置授权期限"
    err = refusal(add, jx.person, child, "child", monthly_cap_fen=5000)
    assert err.message == "该地区家庭共济不支持设置每月限额"

    js = make_owner(factory, region=JIANGSU, name="周建华")
    open_group(js)
    kid = factory.person(name="周小华", age=8, region=JIANGSU)
    err = refusal(add, js.person, kid, "child", starts_on=today + timedelta(days=5),
                  ends_on=today + timedelta(days=1))
    assert err.message == "授权结束日期不能早于开始日期"
    err = refusal(add, js.person, kid, "child", starts_on=today - timedelta(days=1))
    assert err.message == "授权开始日期不能早于今天"
    err = refusal(add, js.person, kid, "child", monthly_cap_fen=0)
    assert err.message == "每月限额须大于0"
    member = add(js.person, kid, "child", starts_on=today, ends_on=today + timedelta(days=30),
                 monthly_cap_fen=20000).member
    assert (member.starts_on, member.monthly_cap_fen) == (today, 20000)
    assert "每月限额¥200.00" in rules.window_text(member)

    aid.set_window(js.person, member, today, today + timedelta(days=60), None, Actor(label="t"))
    db.session.refresh(member)
    assert member.ends_on == today + timedelta(days=60) and member.monthly_cap_fen is None
    assert audit_count("aid.window_changed") == 1
    assert "家庭共济授权已更新" in inbox(kid)


# ---- removing, leaving, expiring -------------------------------------------------------------

def test_owner_removes_a_member_both_sides_told(app, factory):
    user = make_owner(factory)
    open_group(user)
    child = factory.person(name="王小明", age=8)
    member = add(user.person, child, "child").member
    aid.remove_member(user.person, member, Actor(user=user))
    db.session.refresh(member)
    assert (member.status, member.ended_by) == ("removed", "owner")
    assert audit_count("aid.member_removed") == 1
    assert "已移除共济成员" in inbox(user.person)
    assert "您已被移出家庭共济" in inbox(child)
    assert refusal(aid.remove_member, user.person, member, Actor(user=user)).message == \
        "该共济关系已结束，无需再操作"
    # the place is free again: the same child may be added anew
    assert add(user.person, child, "child").member.status == "active"


def test_owner_withdraws_a_pending_invitation(app, factory):
    user = make_owner(factory)
    open_group(user)
    mother = factory.person(name="李秀英", age=62, male=False)
    added = add(user.person, mother, "parent")
    aid.remove_member(user.person, added.member, Actor(user=user))
    assert refusal(invitations.load, added.token).code == "revoked"
    assert "家庭共济邀请已撤回" in inbox(mother)


def test_member_leaves_both_sides_told(app, factory):
    owner = make_owner(factory)
    open_group(owner)
    wife = factory.user(name="陈丽", age=33, male=False)
    member = accept(add(owner.person, wife.person, "spouse").member)
    aid.leave(wife.person, member, Actor(user=wife))
    db.session.refresh(member)
    assert (member.status, member.ended_by) == ("left", "member")
    assert audit_count("aid.member_left") == 1
    assert "陈*已退出家庭共济" in inbox(owner.person)
    assert "您已退出家庭共济" in inbox(wife.person)
    assert queries.joined_rows(wife.person) == []


def test_unanswered_invitation_expires_and_frees_the_place(app, factory):
    user = make_owner(factory)
    open_group(user)
    mother = factory.person(name="李秀英", age=62, male=False)
    added = add(user.person, mother, "parent")
    with clock.frozen_at(clock.now() + timedelta(hours=73)):
        assert steps.expire_invitations() == 1
        db.session.refresh(added.member)
        assert added.member.status == "expired"
        assert audit_count("aid.member_expired") == 1
        again = add(user.person, mother, "parent")
        assert again.member.status == "pending_confirm"


def test_resend_replaces_the_link(app, factory):
    user = make_owner(factory)
    open_group(user)
    mother = factory.person(name="李秀英", age=62, male=False)
    added = add(user.person, mother, "parent")
    token = aid.resend(user.person, added.member, Actor(user=user))
    assert token != added.token
    assert refusal(invitations.load, added.token).code == "revoked"
    assert invitations.load(token).target_id == added.member.id


def test_joined_list_shows_usable_groups(app, factory):
    owner = make_owner(factory, balance_fen=0)
    open_group(owner)
    child = factory.person(name="王小明", age=8)
    add(owner.person, child, "child")
    rows = queries.joined_rows(child)
    assert len(rows) == 1 and rows[0].owner.id == owner.person.id
    assert not rows[0].usable and rows[0].reason == "共济人账户余额为0，暂不能支付"


def test_invitation_to_a_removed_membership_is_gone(app, factory):
    user = make_owner(factory)
    open_group(user)
    mother = factory.person(name="李秀英", age=62, male=False)
    added = add(user.person, mother, "parent")
    inv = db.session.scalar(select(Invitation).where(Invitation.kind == "aid"))
    member = added.member
    member.status = "removed"
    db.session.commit()
    kf.face_pass(mother, rules.ACCEPT_PURPOSE)
    assert refusal(invitations.accept, inv, mother, Actor(label="t")).code == "target_gone"
