"""被绑定列表 → 已退出的共济: a member who left a group, or was removed from it, still reaches its
共济授权记录 from the list (the list of current groups no longer shows it); a revoked invitation
that never joined is not listed; nobody else's past membership shows."""

from __future__ import annotations

from tests.test_aid_rules import JIANGSU, accept, add, make_owner, open_group
from tests.test_codes import login
from webapp.aid import history
from webapp.aid import services as aid
from webapp.audit.services import Actor


def html(response) -> str:
    return response.get_data(as_text=True)


def test_a_member_who_left_reaches_the_groups_history(app, client, factory):
    owner = make_owner(factory, region=JIANGSU, name="王建国")
    other = make_owner(factory, region=JIANGSU, name="李国华")
    open_group(owner)
    open_group(other)
    daughter = factory.user(name="王小丽", age=20, male=False, region=JIANGSU)
    left = accept(add(owner.person, daughter.person, "child").member)
    aid.leave(daughter.person, left, Actor(daughter))
    removed = accept(add(other.person, daughter.person, "child").member)
    aid.remove_member(other.person, removed, Actor(other))
    never = add(owner.person, factory.person(name="王小虎", age=30, region=JIANGSU), "child").member
    aid.remove_member(owner.person, never, Actor(owner))  # withdrawn before joining

    login(client, daughter)
    page = html(client.get("/aid/joined"))
    assert "已退出的共济" in page and page.count("data-past") == 1
    past = page.split("已退出的共济", 1)[1]
    assert f"/aid/joined/{left.public_id}/history" in past and "王*国 的家庭共济" in past
    assert f"/aid/joined/{removed.public_id}/history" in past and "被移出" in past
    record = html(client.get(f"/aid/joined/{left.public_id}/history"))
    assert "退出共济" in record and "加入共济" in record
    assert [m.id for m in history.past_memberships(never.person)] == []


def test_no_past_section_for_a_current_member(app, client, factory):
    owner = make_owner(factory, region=JIANGSU, name="王建国")
    open_group(owner)
    son = factory.user(name="王小明", age=20, region=JIANGSU)
    accept(add(owner.person, son.person, "child").member)
    login(client, son)
    page = html(client.get("/aid/joined"))
    assert "王*国 的家庭共济" in page and "已退出的共济" not in page
