"""长辈模式 by 《移动互联网应用（APP）适老化通用设计规范》 (MIIT 2021), measured in a 390×844 phone.

On every main page, in normal and in elder mode, the browser measures every visible text
element (computed font size, foreground over the effective background) and every visible tap
target (its box); see tests/browser/a11y_measure.py for the numbers and what is exempt. A failure
lists the offenders as «page: what value < limit: selector «text»», so it says what to fix.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests import kinship_factories as kf
from tests.browser.a11y_measure import measure, offenders
from tests.helpers import log_in
from tests.lifecycle_factories import invited
from tests.test_aid_rules import add, open_group
from tests.test_codes import bind, issue
from tests.test_review import jiangsu_family, submit
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.extensions import db
from webapp.messages import services as messages

pytestmark = pytest.mark.browser

MODES = ["normal", "elder"]


def seed(app, elder: bool) -> dict:
    """A lived-in family: a Jiangxi mother with a bound son, a pending invitation to her own
    mother, a 共济 group with the son in it, a settlement, a message; a Jiangsu binding waiting
    for review; a pharmacy clerk and a reviewer. ``elder`` turns 长辈模式 on for every account."""
    with app.app_context():
        holder = factories.user(name="李红", age=38, male=False, balance_fen=50_000,
                                region="360102")
        son = factories.person(name="张小明", age=8, balance_fen=2000)
        daughter = factories.person(name="张小红", age=5)  # added in the wizard
        child = bind(holder.person, son, "child")
        grandma = factories.user(name="王桂兰", age=64, male=False, region="360102")
        _row, _inv, token = invited(holder.person, grandma.person, "parent")
        open_group(holder)
        member = add(holder.person, son).member
        note = messages.send(holder.person, "绑定成功", "您已成功绑定张小明，可代其出示医保码。",
                             "kinship")
        messages.send(holder.person, "家庭共济开通成功", "您的家庭共济已开通。", "aid")
        shop = factories.pharmacy(name="仁心大药房")
        clerk = factories.staff(pharmacy_obj=shop, name="店员小王")
        reviewer = factories.staff(role="reviewer", name="审核员小李")
        db.session.commit()
        checked = settlement.verify(issue(holder).code, shop, Actor(user=clerk))
        paid = settlement.settle(checked.token, shop, Actor(user=clerk), 2350, "布洛芬缓释胶囊 1盒")
        js_holder, js_child = jiangsu_family(factories)
        pending = submit(js_holder.person, js_child)
        kf.face_pass(holder.person)  # the wizard starts without the camera
        for user in (holder, grandma, clerk, reviewer, js_holder):
            user.elder_mode = elder
        db.session.commit()
        out = {
            "holder": holder.phone, "grandma": grandma.phone, "clerk": clerk.phone,
            "reviewer": reviewer.phone, "token": token, "child": child.public_id,
            "member": member.public_id, "message": note,
            "me_person": holder.person.public_id, "son_person": son.public_id,
            "receipt": paid.public_id,
            "pending": pending.public_id, "js_holder": js_holder.phone,
            "daughter_id": daughter.id_number,
        }
        db.session.remove()
        return out


def check(page, label: str, elder: bool, found: list[str]) -> None:
    """Measure the page as it is now and collect its offenders."""
    page.wait_for_load_state("load")
    assert ("elder" in (page.locator("html").get_attribute("class") or "")) == elder, label
    found.extend(offenders(label, measure(page), elder))


def visit(page, base: str, paths: dict[str, str], elder: bool, found: list[str]) -> None:
    for label, path in paths.items():
        response = page.goto(base + path)
        assert response is not None and response.ok, f"{label}: {path} answered {response and response.status}"
        check(page, label, elder, found)


def report(found: list[str]) -> str:
    return f"{len(found)} below the standard:\n" + "\n".join(found)


@pytest.mark.parametrize("mode", MODES)
def test_insured_pages(live_server, phone, screenshot, mode):
    elder = mode == "elder"
    data = seed(live_server.app, elder)
    page = phone()
    log_in(page, live_server.url, data["holder"])
    found: list[str] = []
    visit(page, live_server.url, {
        "首页": "/",
        "家庭": "/family/",
        "家人页": f"/family/members/{data['child']}",
        "绑定我的": "/family/bound-me",
        "医保码选择": "/code/",
        "本人医保码": "/code/me",
        "家人医保码": f"/code/{data['child']}",
        "消费记录": "/records/",
        "结算详情": f"/records/{data['receipt']}",
        "本人页": f"/family/people/{data['me_person']}",
        "家人个人页": f"/family/people/{data['son_person']}",
        "消息": "/messages/",
        "消息详情": f"/messages/{data['message']}",
        "我的": "/auth/me",
        "修改密码": "/auth/password/change",
        "家庭共济": "/aid/",
        "共济成员": f"/aid/members/{data['member']}",
        "添加共济成员": "/aid/members/add",
        "消费明细": "/aid/spending",
        "我加入的共济": "/aid/joined",
        "共济授权记录": f"/aid/members/{data['member']}/history",
    }, elder, found)
    page.goto(live_server.url + "/code/me")
    screenshot(page, f"{mode}-code")
    page.goto(live_server.url + "/")
    screenshot(page, f"{mode}-home")
    page.goto(live_server.url + "/aid/")
    screenshot(page, f"{mode}-aid")
    assert not found, report(found)


@pytest.mark.parametrize("mode", MODES)
def test_wizard_and_face_pages(live_server, phone, screenshot, mode):
    elder = mode == "elder"
    data = seed(live_server.app, elder)
    page = phone()
    log_in(page, live_server.url, data["holder"])
    found: list[str] = []
    page.goto(live_server.url + "/family/add/")
    check(page, "向导·开始", elder, found)
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/family/add/notice$"))
    check(page, "向导·告知书", elder, found)
    page.locator("input[type=checkbox]").first.check()
    page.get_by_role("button", name="同意并继续").click()
    expect(page).to_have_url(re.compile(r"/family/add/info$"))
    check(page, "向导·信息", elder, found)
    page.fill("#name", "张小红")
    page.select_option("#relation", label="子女")
    page.fill("#id_number", data["daughter_id"])
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/family/add/material$"))
    check(page, "向导·材料", elder, found)
    screenshot(page, f"{mode}-material")
    # the face check page: the grandmother (no face pass yet) starts the wizard
    other = phone()
    log_in(other, live_server.url, data["grandma"])
    other.goto(live_server.url + "/family/add/")
    other.locator("form button[type=submit]").first.click()
    expect(other).to_have_url(re.compile(r"/face/[\w-]+$"))
    check(other, "人脸识别", elder, found)
    screenshot(other, f"{mode}-face")
    assert not found, report(found)


@pytest.mark.parametrize("mode", MODES)
def test_invitation_and_face_pages(live_server, phone, screenshot, mode):
    elder = mode == "elder"
    data = seed(live_server.app, elder)
    page = phone()
    found: list[str] = []
    if elder:
        page.context.add_cookies([{"name": "elder_mode", "value": "1", "url": live_server.url}])
    visit(page, live_server.url, {
        "登录": "/auth/login",
        "注册": "/auth/register",
        "忘记密码": "/auth/password/forgot",
        "邀请(未登录)": f"/i/{data['token']}",
    }, elder, found)
    log_in(page, live_server.url, data["grandma"])
    page.goto(live_server.url + f"/i/{data['token']}")
    check(page, "邀请(被邀请人)", elder, found)
    screenshot(page, f"{mode}-invitation")
    accept = page.locator("form button[type=submit]").first
    accept.click()
    page.wait_for_load_state("load")
    check(page, "邀请·下一步", elder, found)
    screenshot(page, f"{mode}-invitation-next")
    assert not found, report(found)


@pytest.mark.parametrize("mode", MODES)
def test_staff_pages(live_server, phone, screenshot, mode):
    elder = mode == "elder"
    data = seed(live_server.app, elder)
    found: list[str] = []
    clerk = phone()
    log_in(clerk, live_server.url, data["clerk"])
    visit(clerk, live_server.url, {
        "药店·扫码": "/pharmacy/",
        "药店·结算单": f"/pharmacy/receipts/{data['receipt']}",
        "药店·对账": "/pharmacy/reconciliation",
    }, elder, found)
    screenshot(clerk, f"{mode}-reconciliation")
    reviewer = phone()
    log_in(reviewer, live_server.url, data["reviewer"])
    visit(reviewer, live_server.url, {
        "审核·队列": "/review/",
        "审核·详情": f"/review/{data['pending']}",
        "审核·审计": "/review/audit",
    }, elder, found)
    screenshot(reviewer, f"{mode}-review")
    assert not found, report(found)


def test_the_measure_catches_what_it_should(phone):
    """The measurement itself: a tiny grey link, a 14 px text and a small QR are caught; an
    inline link inside a sentence is not a target offender (WCAG 2.5.8 inline exception)."""
    page = phone()
    page.goto("about:blank")  # no CSP: the probe's inline styles apply
    page.set_content(
        '<html class="elder"><body style="background:#fff">'
        '<p style="font-size:14px;color:#aaa">小字</p>'
        '<a href="#" style="display:inline-block;width:30px;height:20px">链</a>'
        '<p>正文 <a href="#">句中链接</a> 继续</p>'
        '<div data-qr><svg width="200" height="200"></svg></div>'
        '<p data-display style="font-size:15px">1234</p></body></html>')
    lines = offenders("probe", measure(page), elder=True)
    text = "\n".join(lines)
    assert "font 14px < 18: html.elder > body > p «小字»" in text, text
    assert "contrast 2.32 < 4.5: html.elder > body > p «小字»" in text, text
    assert "target 30×20 < 60: html.elder > body > a «链»" in text, text
    assert not [line for line in lines if "target" in line and "句中链接" in line], text
    assert "QR 200px < 300" in text, text
    assert "code characters 15px < 24" in text, text
