"""The 亲情账户 lifecycle: ending (holder, member), withdrawing, expiry of unanswered
invitations, and turning 16 with a frozen clock — before, on and after the birthday."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from tests import kinship_factories as kf
from tests import lifecycle_factories as lf
from tests.helpers import refused_page
from webapp import clock
from webapp.audit.services import Actor
from webapp.domain import Conflict, NotFound
from webapp.extensions import db
from webapp.kinship import access as kinship_access
from webapp.kinship import lifecycle as kinship_lifecycle
from webapp.kinship import sweeps
from webapp.models import Invitation, KinshipBinding

T0 = datetime(2026, 3, 10, 2, 0)


def fresh(binding: KinshipBinding) -> KinshipBinding:
    db.session.expire_all()
    return db.session.get(KinshipBinding, binding.id)


def html(response) -> str:
    return response.get_data(as_text=True)


# --- ending --------------------------------------------------------------------------------

@pytest.fixture
def bound(factory):
    """李晓红 (38) holds an active binding of her father 李国强 (66), who has an account."""
    holder = factory.user(name="李晓红", age=38, male=False)
    father = factory.user(name="李国强", age=66)
    return holder, father, lf.binding(holder.person, father.person, "parent")


def test_holder_ends_a_binding_and_both_are_told(client, bound):
    holder, father, b = bound
    lf.login(client, holder)
    response = client.post(f"/family/members/{b.public_id}/end")
    assert response.status_code == 302
    b = fresh(b)
    assert (b.status, b.ended_by, b.status_label) == ("ended", "holder", "已解除")
    assert b.ended_at is not None
    assert kinship_access.active_binding(holder.person, father.person) is None
    assert lf.titles(holder.person) == ["已解除与李*强的绑定"]
    assert lf.titles(father.person) == ["李*红已解除与您的绑定"]
    assert lf.audit_actions() == ["kinship.ended"]


def test_member_ends_a_binding_from_bound_me(client, bound):
    holder, father, b = bound
    lf.login(client, father)
    page = html(client.get("/family/bound-me"))
    assert "李*红" in page and "李晓红" not in page and "您是李*红的父母" in page
    assert 'data-confirm="确定解除与李*红的绑定吗？' in page
    response = client.post(f"/family/bound-me/{b.public_id}/end")
    assert response.headers["Location"] == "/family/bound-me"
    b = fresh(b)
    assert (b.status, b.ended_by) == ("ended", "member")
    assert lf.titles(holder.person) == ["李*强已解除与您的绑定"]
    assert lf.titles(father.person) == ["您已解除与李*红的绑定"]
    assert "目前没有人绑定您" in html(client.get("/family/bound-me"))


def test_end_binding_by_user_and_public_id(bound, factory):
    holder, father, b = bound
    stranger = factory.user(name="王五", age=30)
    with pytest.raises(NotFound):
        kinship_lifecycle.end_binding(stranger, b.public_id, Actor(user=stranger))
    assert fresh(b).status == "active"
    kinship_lifecycle.end_binding(father, b.public_id, Actor(user=father))
    assert (fresh(b).status, fresh(b).ended_by) == ("ended", "member")
    with pytest.raises(Conflict, match="该绑定已结束"):
        kinship_lifecycle.end_binding(holder, b.public_id, Actor(user=holder))


def test_a_concurrent_change_is_a_conflict_not_a_double_end(bound):
    """The binding changed (version bumped) after we loaded it: refused, nothing sent."""
    holder, father, b = bound
    stale = db.session.get(KinshipBinding, b.id)
    db.session.execute(db.update(KinshipBinding).where(KinshipBinding.id == b.id)
                       .values(version=KinshipBinding.version + 1))
    db.session.commit()
    set_committed_value(stale, "version", 1)  # what we had read before the change
    with pytest.raises(Conflict, match="绑定状态已变化"):
        kinship_lifecycle.end_binding(stale, "holder", lf.ACTOR)
    assert fresh(b).status == "active"
    assert lf.titles(holder.person) == []


def test_member_refusing_a_pending_binding_declines_it(client, factory):
    holder = factory.user(name="周建国", age=40)
    wife = factory.user(name="吴丽华", age=38, male=False)
    b, inv, token = lf.invited(holder.person, wife.person, "spouse")
    lf.login(client, wife)
    page = html(client.get("/family/bound-me"))
    assert "待确认" in page and f"/i/r/{inv.public_id}" in page
    client.post(f"/family/bound-me/{b.public_id}/end")
    b = fresh(b)
    assert (b.status, b.ended_by) == ("declined", "member")
    assert db.session.get(Invitation, inv.id).revoked_at is not None
    assert lf.titles(holder.person)[-1] == "吴*华拒绝了绑定邀请"


# --- expiry --------------------------------------------------------------------------------

def test_expire_due_only_after_the_invitation_expired(factory):
    clock.freeze(T0)
    holder = factory.person(name="陈志强", age=45)
    mother = factory.person(name="陈秀兰", age=70, male=False)
    b, inv, token = lf.invited(holder, mother)
    clock.freeze(T0 + timedelta(hours=71, minutes=59))
    assert sweeps.expire_due() == 0
    assert fresh(b).status == "pending_confirm"
    clock.freeze(T0 + timedelta(hours=72))
    assert sweeps.expire_due() == 1
    b = fresh(b)
    assert (b.status, b.status_label, b.ended_by) == ("expired", "已过期", "system")
    assert lf.titles(holder) == ["邀请已过期"]
    assert lf.titles(mother) == ["绑定邀请已过期"]
    assert lf.audit_actions()[-1] == "kinship.expired"
    assert sweeps.expire_due() == 0  # once


def test_expiry_reads_on_the_family_page_before_the_sweep_writes_it(client, factory):
    """The page shows 已过期 at once (read-time), writes nothing; the sweep writes it."""
    clock.freeze(T0)
    holder = factory.user(name="陈志强", age=45)
    mother = factory.person(name="陈秀兰", age=70, male=False)
    other = factory.person(name="赵建华", age=50)
    b, _, _ = lf.invited(holder.person, mother)
    foreign, _, _ = lf.invited(other, factory.person(name="赵母", age=75, male=False))
    clock.freeze(T0 + timedelta(days=3, hours=1))
    lf.login(client, holder)
    before = lf.snapshot()
    page = html(client.get("/family/"))
    assert "已过期" in page and "我的家庭成员（0/5）" in page
    detail = html(client.get(f"/family/members/{b.public_id}"))
    assert "邀请已过期，对方未确认" in detail and "撤回邀请" not in detail
    assert lf.snapshot() == before  # a GET writes nothing
    assert fresh(b).status == "pending_confirm"
    assert fresh(foreign).status == "pending_confirm"  # another holder's: left for the CLI
    assert sweeps.expire_due() == 2
    assert fresh(b).status == "expired"
    assert "已过期" in html(client.get("/family/"))


def test_cli_expire_and_sweep(runner, factory):
    clock.freeze(T0)
    holder = factory.person(name="陈志强", age=45)
    b, _, _ = lf.invited(holder, factory.person(name="陈秀兰", age=70, male=False))
    clock.freeze(T0 + timedelta(days=4))
    result = runner.invoke(args=["kinship", "expire"])
    assert result.exit_code == 0 and "已过期的待确认绑定 1 条" in result.output
    assert fresh(b).status == "expired"
    result = runner.invoke(args=["kinship", "sweep", "--today", "2026-03-20"])
    assert result.exit_code == 0 and "已请求本人确认 0 条" in result.output


# --- turning 16 ----------------------------------------------------------------------------

BIRTH = date(2010, 5, 20)
BOUND_AT = datetime(2020, 1, 1, 4, 0)


def china_noon(day: date) -> datetime:
    return clock.china_midnight_utc(day) + timedelta(hours=12)


@pytest.fixture
def teen(factory):
    """A mother who bound her son at 9; the son (born 2010-05-20) has an account."""
    clock.freeze(BOUND_AT)
    mother = factory.user(name="刘芳", age=40, male=False)
    son = factory.user(name="刘子轩", birth=BIRTH)
    b = lf.binding(mother.person, son.person, "child")
    return mother, son, b


def test_the_day_before_the_16th_birthday_nothing_happens(teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 19)))
    assert sweeps.sweep_turning_age() == sweeps.SweepResult(0, 0)
    b = fresh(b)
    assert b.self_confirm_due is None and b.status_label == "已绑定"
    assert db.session.scalar(select(Invitation)) is None
    assert lf.titles(son.person) == []


def test_on_the_birthday_the_teen_is_asked_and_the_code_keeps_working(teen):
    mother, son, b = teen
    clock.freeze(clock.china_midnight_utc(date(2026, 5, 20)) + timedelta(minutes=1))
    assert sweeps.sweep_turning_age().asked == 1
    b = fresh(b)
    assert b.status == "active" and b.status_label == "待本人确认"
    assert b.self_confirm_due == date(2026, 6, 19)  # + 30 days (policy)
    assert kinship_access.active_binding(mother.person, son.person).id == b.id
    inv = db.session.scalar(select(Invitation))
    assert (inv.kind, inv.target_id, inv.invitee_person_id) == ("kinship", b.id, son.person.id)
    assert inv.expires_at == clock.china_midnight_utc(date(2026, 6, 20))
    assert lf.titles(mother.person) == ["刘*轩已满16周岁，需本人确认"]
    assert lf.titles(son.person) == ["请确认亲情账户绑定"]
    assert "kinship.self_confirm_requested" in lf.audit_actions()
    assert sweeps.sweep_turning_age().asked == 0  # once


@pytest.mark.parametrize("swept", [False, True])
def test_the_holder_page_shows_the_label_before_and_after_the_sweep(client, teen, swept):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    if swept:
        assert sweeps.sweep_turning_age().asked == 1
    lf.login(client, mother)
    before = lf.snapshot()
    page = html(client.get("/family/"))
    assert "待本人确认" in page
    detail = html(client.get(f"/family/members/{b.public_id}"))
    assert "2026-06-19" in detail and "重新发送邀请" in detail and "出示医保码" in detail
    assert lf.snapshot() == before  # the pages read; only the sweep writes
    assert (fresh(b).self_confirm_due is None) is not swept


def test_resending_before_the_sweep_asks_the_teen_once(client, teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    lf.login(client, mother)
    client.post(f"/family/members/{b.public_id}/resend")
    assert fresh(b).self_confirm_due == date(2026, 6, 19)
    assert len(db.session.scalars(select(Invitation)).all()) == 1
    assert lf.titles(son.person) == ["请确认亲情账户绑定"]
    assert 'id="invite-link"' in html(client.get(f"/family/members/{b.public_id}"))
    assert sweeps.sweep_turning_age().asked == 0


def test_a_lapsed_confirmation_reads_ended_before_the_sweep(client, teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    sweeps.sweep_turning_age()
    clock.freeze(china_noon(date(2026, 6, 21)))
    lf.login(client, mother)
    before = lf.snapshot()
    detail = html(client.get(f"/family/members/{b.public_id}"))
    assert "已解除" in detail and "绑定已解除" in detail and ">出示医保码</a>" not in detail
    assert kinship_access.active_binding(mother.person, son.person) is None
    assert lf.snapshot() == before
    assert fresh(b).status == "active"
    assert sweeps.sweep_turning_age().ended == 1


def test_accepting_clears_the_due_date_for_good(client, teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    sweeps.sweep_turning_age()
    clock.freeze(china_noon(date(2026, 6, 1)))
    lf.login(client, son)
    message = lf.titles(son.person)
    assert message == ["请确认亲情账户绑定"]
    inv = db.session.scalar(select(Invitation))
    page = html(client.get(f"/i/r/{inv.public_id}"))
    assert "亲情账户本人确认" in page and "2026-06-19" in page and "确认并进行人脸识别" in page
    kf.face_pass(son.person, purpose="kinship_accept")
    assert refused_page(client, client.post(f"/i/r/{inv.public_id}/confirm")).status_code == 302
    b = fresh(b)
    assert (b.status, b.self_confirm_due, b.status_label) == ("active", None, "已绑定")
    assert lf.titles(mother.person)[-1] == "刘*轩已本人确认绑定"
    clock.freeze(china_noon(date(2027, 1, 1)))
    assert sweeps.sweep_turning_age() == sweeps.SweepResult(0, 0)
    assert fresh(b).status == "active"


def test_after_the_grace_period_the_binding_ends(teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    sweeps.sweep_turning_age()
    clock.freeze(china_noon(date(2026, 6, 19)))  # the last day
    assert sweeps.sweep_turning_age().ended == 0
    assert fresh(b).status == "active"
    clock.freeze(clock.china_midnight_utc(date(2026, 6, 20)) + timedelta(minutes=1))
    assert sweeps.sweep_turning_age().ended == 1
    b = fresh(b)
    assert (b.status, b.ended_by, b.self_confirm_due) == ("ended", "system", None)
    assert kinship_access.active_binding(mother.person, son.person) is None
    assert db.session.scalar(select(Invitation)).revoked_at is not None or \
        db.session.scalar(select(Invitation)).expires_at <= clock.now()
    assert lf.titles(mother.person)[-1] == "与刘*轩的绑定已自动解除"
    assert lf.titles(son.person)[-1] == "亲情账户绑定已自动解除"


def test_the_teen_may_decline_and_end_it(client, teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    sweeps.sweep_turning_age()
    inv = db.session.scalar(select(Invitation))
    lf.login(client, son)
    refused_page(client, client.post(f"/i/r/{inv.public_id}/decline"))
    b = fresh(b)
    assert (b.status, b.ended_by) == ("ended", "member")
    assert lf.titles(mother.person)[-1] == "刘*轩未同意继续绑定"


def test_the_holder_can_resend_the_self_confirmation_link(client, teen):
    mother, son, b = teen
    clock.freeze(china_noon(date(2026, 5, 20)))
    sweeps.sweep_turning_age()
    clock.freeze(china_noon(date(2026, 6, 10)))
    lf.login(client, mother)
    client.post(f"/family/members/{b.public_id}/resend")
    invs = db.session.scalars(select(Invitation).order_by(Invitation.id)).all()
    assert len(invs) == 2 and invs[0].revoked_at is not None
    assert invs[1].expires_at == clock.china_midnight_utc(date(2026, 6, 20))
    assert 'id="invite-link"' in html(client.get(f"/family/members/{b.public_id}"))


def test_someone_bound_at_16_or_later_is_never_asked(factory):
    clock.freeze(china_noon(date(2026, 5, 20)))
    holder = factory.person(name="刘芳", age=40, male=False)
    son = factory.person(name="刘子轩", birth=BIRTH)  # 16 today
    b = lf.binding(holder, son, "child")  # e.g. confirmed through an invitation earlier
    clock.freeze(china_noon(date(2026, 8, 1)))
    assert sweeps.sweep_turning_age() == sweeps.SweepResult(0, 0)
    assert fresh(b).self_confirm_due is None
