"""On a 390 px phone: a parent edits a bound child's phone and relation (管理家人 → 编辑 →
face check → form → confirm → saved, message to both sides); a 共济 owner and the member read
the member's 共济授权记录."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests import factories, helpers
from tests import kinship_factories as kf
from tests.browser import face_steps
from tests.helpers import watch
from webapp import clock
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.models import KinshipBinding


def pass_face_check(page) -> None:
    """Look into the fake front camera, 开始识别, do the asked actions."""
    face_steps.pass_face_check(page)


def seed_family(app):
    with app.app_context():
        user = factories.user(name="李华", age=35, region="360102")
        child = factories.person(name="李小明", age=8)
        b = kf.binding(user.person, child, "child")
        b.material_id = kf.material(user.person, "hukou").id
        b.phone = "13900000001"
        db.session.commit()
        return {"phone": user.phone, "binding": b.public_id, "id": b.id}


def test_parent_edits_a_bound_childs_phone(live_server, phone, screenshot):
    data = seed_family(live_server.app)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["phone"])

    page.goto(f"{live_server.url}/family/members/{data['binding']}")
    expect(page.locator("main")).to_contain_text("139****0001")
    screenshot(page, "1-member")
    page.get_by_role("link", name="编辑", exact=True).click()
    expect(page.locator("main")).to_contain_text("姓名或身份证号填错了？")
    screenshot(page, "2-edit-start")
    page.get_by_role("button", name="人脸识别后编辑").click()
    pass_face_check(page)

    expect(page).to_have_url(re.compile(r"/edit$"), timeout=30_000)  # frames over seconds
    page.fill("#phone", "1381234")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("main")).to_contain_text("请输入11位手机号")
    expect(page.locator("#phone")).to_have_value("1381234")  # nothing lost
    screenshot(page, "3-bad-phone")
    page.fill("#phone", "138 1234 5678")
    page.get_by_role("button", name="下一步").click()

    expect(page).to_have_url(re.compile(r"/edit/confirm$"))
    expect(page.locator("main")).to_contain_text("138****5678")
    screenshot(page, "4-confirm")
    page.get_by_role("button", name="确认保存").click()

    expect(page).to_have_url(re.compile(rf"/family/members/{data['binding']}$"))
    expect(page.locator("body")).to_contain_text("修改已保存")
    expect(page.locator("main")).to_contain_text("138****5678")
    screenshot(page, "5-saved")
    page.goto(live_server.url + "/messages/")
    expect(page.locator("main")).to_contain_text("已修改李*明的绑定信息")
    screenshot(page, "6-message")
    with live_server.app.app_context():
        assert db.session.get(KinshipBinding, data["id"]).phone == "13812345678"
    assert problems == []


def seed_aid(app):
    """An owner (江苏, where windows and caps exist) whose daughter joined, had her window and
    cap changed, then left."""
    from webapp.aid import services as aid

    with app.app_context():
        owner = factories.user(name="王建国", age=60, region="320102", balance_fen=10_000)
        daughter = factories.user(name="王小丽", age=12, male=False, region="320102")
        kf.face_pass(owner.person, "aid_create")
        aid.create_group(owner.person, True, Actor(owner))
        added = aid.add_member(owner.person, "child", Actor(owner), name="王小丽",
                               id_number=daughter.person.id_number)
        today = clock.today()
        aid.set_window(owner.person, added.member, today, today + timedelta(days=90), 20_000,
                       Actor(owner))
        aid.set_window(owner.person, added.member, today, today + timedelta(days=90), 5_000,
                       Actor(owner))
        aid.leave(daughter.person, added.member, Actor(daughter))
        return {"owner": owner.phone, "member": daughter.phone, "id": added.member.public_id}


def test_aid_history_for_owner_and_member(live_server, phone, screenshot):
    data = seed_aid(live_server.app)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["owner"])
    page.goto(f"{live_server.url}/aid/members/{data['id']}")
    page.get_by_role("link", name="授权记录").click()
    expect(page).to_have_url(re.compile(r"/history$"))
    main = page.locator("main")
    for words in ("加入共济", "设置授权期限", "每月限额", "退出共济", "王*国", "王*丽"):
        expect(main).to_contain_text(words)
    screenshot(page, "1-owner")

    other = phone()
    helpers.log_in(other, live_server.url, data["member"])
    other.goto(f"{live_server.url}/aid/joined")  # she left: 已退出的共济 still opens it
    past = other.locator("[data-past]")
    expect(past).to_contain_text("王*国 的家庭共济")
    screenshot(other, "2a-joined-past")
    past.get_by_role("link").first.click()
    expect(other).to_have_url(re.compile(rf"/aid/joined/{data['id']}/history$"))
    expect(other.locator("main")).to_contain_text("退出共济")
    screenshot(other, "2-member")
    assert problems == []
