"""共济授权记录: every authorisation event of a membership — added / invited, joined, window and
cap set or changed, removed, left, declined, expired, resent — with when and who, oldest
first; the owner and that member see it, anyone else gets 404."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.test_aid_rules import JIANGSU, accept, make_owner, open_group
from tests.test_codes import login
from webapp import clock
from webapp.aid import history, steps
from webapp.aid import services as aid
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.models import AuditLog


def html(response) -> str:
    return response.get_data(as_text=True)


def whats(member) -> list[tuple[str, str, str]]:
    return [(e.what, e.detail, e.who) for e in history.events(member, member.group.owner)]


@pytest.fixture
def owner(factory):
    user = make_owner(factory, region=JIANGSU, name="王建国")
    open_group(user)
    return user


def test_every_event_with_who_and_detail_in_order(owner, factory):
    child = factory.user(name="王小丽", age=12, male=False, region=JIANGSU)
    today = clock.today()
    added = aid.add_member(owner.person, "child", Actor(owner), name="王小丽",
                           id_number=child.person.id_number, monthly_cap_fen=10_000)
    m = added.member
    aid.set_window(owner.person, m, today, today + timedelta(days=30), 10_000, Actor(owner))
    aid.set_window(owner.person, m, today, today + timedelta(days=60), 20_000, Actor(owner))
    aid.set_window(owner.person, m, None, None, None, Actor(owner))
    aid.leave(child.person, m, Actor(child))
    start, end30, end60 = today.isoformat(), (today + timedelta(days=30)).isoformat(), \
        (today + timedelta(days=60)).isoformat()
    assert whats(m) == [
        ("加入共济（共济人直接添加）", "每月限额¥100.00", "王*国（共济人）"),
        ("设置授权期限", f"{start} 至 {end30}", "王*国（共济人）"),
        ("修改授权期限", f"{start} 至 {end30} → {start} 至 {end60}", "王*国（共济人）"),
        ("修改每月限额", "¥100.00 → ¥200.00", "王*国（共济人）"),
        ("取消授权期限", f"原为 {start} 至 {end60}，现长期有效", "王*国（共济人）"),
        ("取消每月限额", "原为 ¥200.00，现不限额", "王*国（共济人）"),
        ("退出共济", "", "王*丽（成员本人）"),
    ]
    times = [e.at for e in history.events(m, owner.person)]
    assert times == sorted(times)


def test_invited_resent_joined_removed(owner, factory):
    wife = factory.user(name="李梅", age=40, male=False, region=JIANGSU)
    added = aid.add_member(owner.person, "spouse", Actor(owner), name="李梅",
                           id_number=wife.person.id_number)
    aid.resend(owner.person, added.member, Actor(owner))
    db.session.commit()
    m = accept(added.member, wife)
    aid.remove_member(owner.person, m, Actor(owner))
    assert [w[0] for w in whats(m)] == ["发出共济邀请", "重新发送邀请", "加入共济（本人确认）",
                                        "移出共济"]
    assert [w[2] for w in whats(m)] == ["王*国（共济人）", "王*国（共济人）", "李*（成员本人）",
                                        "王*国（共济人）"]


def test_declined_withdrawn_and_expired(owner, factory):
    mother = factory.user(name="赵兰", age=66, male=False, region=JIANGSU)
    father = factory.person(name="王大山", age=68, region=JIANGSU)
    son = factory.person(name="王小虎", age=30, region=JIANGSU)
    first = aid.add_member(owner.person, "parent", Actor(owner), name="赵兰",
                           id_number=mother.person.id_number).member
    aid.leave(mother.person, first, Actor(mother))  # 拒绝 from 被绑定列表
    second = aid.add_member(owner.person, "parent", Actor(owner), name="王大山",
                            id_number=father.id_number).member
    aid.remove_member(owner.person, second, Actor(owner))
    third = aid.add_member(owner.person, "child", Actor(owner), name="王小虎",
                           id_number=son.id_number).member
    with clock.frozen_at(clock.now() + timedelta(days=30)):
        steps.expire_invitations()
    assert [w[0] for w in whats(first)] == ["发出共济邀请", "拒绝共济邀请"]
    assert [w[0] for w in whats(second)] == ["发出共济邀请", "撤回共济邀请"]
    assert [(w[0], w[2]) for w in whats(third)][-1] == ("共济邀请已过期", "系统")


def test_a_row_without_structured_detail_still_reads(owner, factory):
    child = factory.person(name="王小丽", age=12, male=False, region=JIANGSU)
    m = aid.add_member(owner.person, "child", Actor(owner), name="王小丽",
                       id_number=child.id_number).member
    db.session.add(AuditLog(action="aid.window_changed", actor_user_id=owner.id,
                            target_type="AidMember", target_id=m.public_id,
                            detail='{"from": "", "to": "每月限额¥50.00"}'))
    db.session.commit()
    assert whats(m)[-1] == ("修改授权设置", "长期有效，不限额 → 每月限额¥50.00", "王*国（共济人）")


def test_pages_for_owner_and_member_and_404_for_others(client, owner, factory):
    child = factory.user(name="王小丽", age=12, male=False, region=JIANGSU)
    m = aid.add_member(owner.person, "child", Actor(owner), name="王小丽",
                       id_number=child.person.id_number).member
    aid.set_window(owner.person, m, None, None, 5_000, Actor(owner))
    login(client, owner)
    member_page = html(client.get(f"/aid/members/{m.public_id}"))
    assert f"/aid/members/{m.public_id}/history" in member_page
    page = html(client.get(f"/aid/members/{m.public_id}/history"))
    assert page.index("加入共济") < page.index("设置每月限额")
    assert "王*国（共济人）" in page and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", page)
    # the owner has no membership of their own with this id
    assert client.get(f"/aid/joined/{m.public_id}/history").status_code == 404

    client.post("/auth/logout")
    login(client, child)
    assert f"/aid/joined/{m.public_id}/history" in html(client.get("/aid/joined"))
    mine = html(client.get(f"/aid/joined/{m.public_id}/history"))
    assert "设置每月限额" in mine and "王*国 的家庭共济" in mine
    assert client.get(f"/aid/members/{m.public_id}/history").status_code == 404

    client.post("/auth/logout")
    stranger = factory.user(name="赵六", age=50, region=JIANGSU)
    login(client, stranger)
    for path in (f"/aid/members/{m.public_id}/history", f"/aid/joined/{m.public_id}/history"):
        assert client.get(path).status_code == 404
