"""On a 390 px phone, 管理家人 → 编辑 and the relation: in 江苏 (the reviewer approved the
relation on the proof) the page says before saving that it cannot change here and how to
re-add with new proof; in 江西 the relative's 家庭共济 membership follows, as the confirm page
says, and 共济授权记录 shows the change."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories, helpers
from tests import kinship_factories as kf
from tests.helpers import watch
from tests.test_aid_rules import JIANGSU, add, make_owner, open_group
from webapp.extensions import db
from webapp.kinship import edit


def seed(app, region: str | None, in_aid: bool) -> dict:
    with app.app_context():
        kw = {"region": region} if region else {}
        holder = make_owner(factories, name="李强", age=40, **kw)
        wife = factories.person(name="王芳", age=38, male=False, **kw)
        b = kf.binding(holder.person, wife, "child")  # typed wrong: she is his wife
        b.material_id = kf.material(holder.person, "hukou").id
        db.session.commit()
        member = None
        if in_aid:
            open_group(holder)
            member = add(holder.person, wife, "child").member.public_id
        kf.face_pass(holder.person, edit.PURPOSE)
        data = {"phone": holder.phone, "binding": b.public_id, "member": member}
        db.session.remove()
        return data


def test_jiangsu_says_the_relation_needs_new_proof(live_server, phone, screenshot):
    data = seed(live_server.app, JIANGSU, in_aid=False)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["phone"])
    page.goto(f"{live_server.url}/family/members/{data['binding']}/edit")
    main = page.locator("main")
    expect(main).to_contain_text("不能直接修改")
    expect(main).to_contain_text("解除绑定后重新添加")
    expect(page.locator("select#relation")).to_have_count(0)  # shown, not a picker
    expect(page.locator("[data-relation-fixed]")).to_contain_text("子女")
    screenshot(page, "1-form")
    assert problems == []


def test_jiangxi_relation_change_follows_into_the_aid_group(live_server, phone, screenshot):
    data = seed(live_server.app, None, in_aid=True)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["phone"])
    page.goto(f"{live_server.url}/family/members/{data['binding']}/edit")
    expect(page.locator("main")).to_contain_text("家庭共济中的关系同步修改")
    page.select_option("#relation", "spouse")
    screenshot(page, "1-form")
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/edit/confirm$"))
    expect(page.locator("main")).to_contain_text("关系同步改为配偶")
    screenshot(page, "2-confirm")
    page.get_by_role("button", name="确认保存").click()
    expect(page.locator("body")).to_contain_text("修改已保存")
    page.goto(f"{live_server.url}/aid/members/{data['member']}/history")
    expect(page.locator("main")).to_contain_text("子女 → 配偶")
    screenshot(page, "3-history")
    assert problems == []
