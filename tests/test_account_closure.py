"""注销账户: every binding and 共济 relation ends through its own service (messages to the other
side), the account closes (login refused), its sessions end, ledger and audit rows stay."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.helpers import binding, refused_page
from tests.lifecycle_factories import invited, titles
from tests.test_aid_rules import accept, add, make_owner, open_group
from webapp.accounts import closure
from webapp.accounts import services as accounts
from webapp.accounts.models import WebSession
from webapp.accounts.states import AccountStatus
from webapp.aid.states import AidGroupStatus, AidMemberStatus
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.kinship.states import BindingStatus
from webapp.models import AidGroup, AidMember, AuditLog, KinshipBinding, LedgerEntry, User

PASSWORD = "Passw0rd!"


def family(factory):
    """王建国 (closing) with every kind of relation, and the people on the other side."""
    me = make_owner(factory, name="王建国", balance_fen=10000)
    child = factory.person(name="王小明", age=8)
    parent = factory.person(name="王老汉", age=62)
    spouse = factory.person(name="李秀梅", age=34, male=False)
    holder = factory.user(name="王大哥", age=40)  # binds me
    owner = make_owner(factory, name="王父亲", age=62)  # has me in his group
    binding(me.person, child, relation="child")
    invited(me.person, parent, relation="parent")
    binding(holder.person, me.person, relation="child")
    open_group(me)
    add(me.person, child)
    add(me.person, spouse, relation="spouse")
    open_group(owner)
    accept(add(owner.person, me.person).member, me)
    return {"me": me, "child": child, "parent": parent, "spouse": spouse,
            "holder": holder.person, "owner": owner.person}


def count(model, **where) -> int:
    return db.session.scalar(select(func.count(model.id)).filter_by(**where))


def log_in(app, phone: str):
    c = app.test_client()
    assert c.post("/auth/login", data={"phone": phone, "password": PASSWORD}).status_code == 302
    return c


def test_the_page_says_what_happens_and_get_writes_nothing(app, factory):
    f = family(factory)
    client = log_in(app, f["me"].phone)
    before = (count(AuditLog), count(KinshipBinding, status=BindingStatus.ACTIVE))
    html = client.get("/auth/close").get_data(as_text=True)
    for text in ("王*明", "王*汉", "王*哥", "李*梅", "王*亲", "我绑定的家人", "绑定我的人",
                 "我开通的家庭共济", "我加入的家庭共济", "不能再登录",
                 "医疗保障基金使用监督管理条例", "继续保存", "对方会收到消息", "确认注销账户"):
        assert text in html, text
    assert (count(AuditLog), count(KinshipBinding, status=BindingStatus.ACTIVE)) == before


def test_closing_ends_every_relation_with_messages_and_keeps_the_records(app, factory):
    f = family(factory)
    me = f["me"]
    client, other_device = log_in(app, me.phone), log_in(app, me.phone)
    old_cookie = client.get_cookie("session").value
    assert count(WebSession, user_key=me.public_id) == 2
    ledger_before = count(LedgerEntry)
    audit_ids = set(db.session.scalars(select(AuditLog.id)))

    done = refused_page(client, client.post("/auth/close", data={"password": PASSWORD, "confirm": "y"}))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert "账户已注销" in client.get("/").get_data(as_text=True)
    db.session.expire_all()

    # Bindings: both directions ended (the pending invitation withdrawn), none left open.
    mine = db.session.scalars(select(KinshipBinding).where(
        (KinshipBinding.holder_person_id == me.person.id)
        | (KinshipBinding.member_person_id == me.person.id))).all()
    assert len(mine) == 3 and {b.status for b in mine} == {BindingStatus.ENDED}
    # 共济: my group closed with its members out; I left the other group.
    group = db.session.scalars(select(AidGroup).filter_by(owner_person_id=me.person.id)).one()
    assert group.status == AidGroupStatus.CLOSED and group.closed_at is not None
    assert {m.status for m in group.members} == {AidMemberStatus.REMOVED}
    joined = db.session.scalars(select(AidMember).filter_by(person_id=me.person.id)).one()
    assert joined.status == AidMemberStatus.LEFT
    # The other side heard of it, each through the usual message and one about the closure.
    assert "王*国已解除与您的绑定" in titles(f["holder"])
    assert "您已被移出家庭共济" in titles(f["child"])
    assert "王*国已退出家庭共济" in titles(f["owner"])
    assert "王*国已撤回邀请" in titles(f["parent"])
    for who in ("holder", "child", "owner", "parent", "spouse"):
        assert "王*国已注销亲情医保账户" in titles(f[who]), who
    # The account: closed, every session gone, the old cookie logs nobody in.
    user = db.session.get(User, me.id)
    assert user.status == AccountStatus.CLOSED and user.closed_at is not None
    assert count(WebSession, user_key=me.public_id) == 0
    assert other_device.get("/auth/me").status_code == 302
    stale = app.test_client()
    stale.set_cookie("session", old_cookie)
    assert stale.get("/auth/me").headers["Location"].startswith("/auth/login")
    # Records kept: no ledger or audit row deleted; the closure itself audited.
    assert count(LedgerEntry) == ledger_before
    assert audit_ids <= set(db.session.scalars(select(AuditLog.id)))
    closed = db.session.scalars(select(AuditLog).filter_by(action="account.closed")).one()
    assert '"bindings": 3' in closed.detail and '"told": 5' in closed.detail


def test_a_closed_account_cannot_log_in_or_register_again(app, factory, client):
    me = factory.user(name="周末")
    closure.close_account(me, PASSWORD, True, Actor(label="test"))
    refused = refused_page(client, client.post("/auth/login",
                                               data={"phone": me.phone, "password": PASSWORD}))
    assert accounts.MSG_ACCOUNT_CLOSED in refused.get_data(as_text=True)
    # A wrong password says nothing about the account's state.
    wrong = refused_page(client, client.post("/auth/login",
                                             data={"phone": me.phone, "password": "wrong-0"}))
    assert accounts.MSG_ACCOUNT_CLOSED not in wrong.get_data(as_text=True)
    assert count(AuditLog, action="account.login_closed") == 1
    again = refused_page(client, client.post("/auth/register", data={
        "phone": "13712345678", "password": "abc12345", "confirm": "abc12345",
        "name": me.person.name, "id_number": me.person.id_number, "agree": "y",
        "agree_face": "y"}))
    assert accounts.MSG_PERSON_CLOSED in again.get_data(as_text=True)


def test_wrong_password_or_no_confirmation_changes_nothing(app, factory):
    f = family(factory)
    client = log_in(app, f["me"].phone)
    open_before = count(KinshipBinding, status=BindingStatus.ACTIVE)
    wrong = refused_page(client, client.post("/auth/close", data={"password": "nope-123", "confirm": "y"}))
    assert closure.MSG_WRONG_PASSWORD in wrong.get_data(as_text=True)
    unticked = refused_page(client, client.post("/auth/close", data={"password": PASSWORD}))
    assert closure.MSG_CONFIRM in unticked.get_data(as_text=True)
    db.session.expire_all()
    assert count(KinshipBinding, status=BindingStatus.ACTIVE) == open_before
    assert db.session.get(User, f["me"].id).status == AccountStatus.ACTIVE
    assert count(AuditLog, action="account.close_refused") == 1
    assert count(AuditLog, action="account.closed") == 0
    assert client.get("/auth/me").status_code == 200  # still logged in


def test_a_replayed_close_post_does_nothing_more(app, factory):
    me = factory.user(name="吴重放")
    client = log_in(app, me.phone)
    cookie = client.get_cookie("session").value
    assert refused_page(client, client.post("/auth/close", data={"password": PASSWORD, "confirm": "y"})).status_code \
        == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    again = refused_page(replay, replay.post("/auth/close", data={"password": PASSWORD, "confirm": "y"}))
    assert again.status_code == 302 and again.headers["Location"].startswith("/auth/login")
    assert count(AuditLog, action="account.closed") == 1


def test_staff_accounts_have_no_closure_page(app, factory):
    staff = factory.staff("pharmacy")
    client = log_in(app, staff.phone)
    assert client.get("/auth/close").status_code == 403


def test_codes_issued_before_closing_can_no_longer_be_settled(app, factory):
    """A 医保码 still on another screen (or verified, its token waiting) dies with the account."""
    from webapp.codes import services as codes
    from webapp.codes import settlement
    from webapp.domain import DomainError

    me = factory.user(name="吴桐", balance_fen=10_000)
    shop = factory.pharmacy()
    actor = Actor(user=me, label="test")
    shown = codes.issue_code(me, codes.ME, actor).code
    verified = settlement.verify(codes.issue_code(me, codes.ME, actor).code, shop, actor)
    closure.close_account(me, PASSWORD, True, Actor(label="test"))
    with pytest.raises(DomainError) as refused:
        settlement.verify(shown, shop, Actor(label="pos"))
    assert refused.value.code == "expired"
    with pytest.raises(DomainError):
        settlement.settle(verified.token, shop, Actor(label="pos"), 100, "药×1",
                          msgid=None)
    assert count(LedgerEntry, kind="payment") == 0
