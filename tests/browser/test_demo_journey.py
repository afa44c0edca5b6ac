"""The lived-in demo on a phone: the first demo login (13800000001, 张建国) sees his family
bound, the open invitation, 家庭共济, records of his own, on behalf and paid by 共济, and unread
messages — and the reviewer sees the Jiangsu application waiting. Screenshots in
test-artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.helpers import log_in, watch
from webapp.demo import PASSWORD, seed_demo


def test_the_first_demo_login_sees_a_family_a_few_months_in(live_server, phone, screenshot):
    with live_server.app.app_context():
        seed_demo()
    base = live_server.url
    page = phone()
    problems = watch(page)
    log_in(page, base, "13800000001", PASSWORD)
    expect(page.locator("main")).to_contain_text("¥1903.00")
    screenshot(page, "1-home")

    page.goto(base + "/family/")
    members = page.locator(".app-member")
    for masked in ("张*明", "张*红", "张*胜"):
        expect(members.filter(has_text=masked)).to_contain_text("已绑定")
    expect(members.filter(has_text="张*豪")).to_contain_text("待确认")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "2-family")

    page.goto(base + "/aid/")
    expect(page.locator("main")).to_contain_text("共济成员 3/8")
    screenshot(page, "3-aid")

    page.goto(base + "/records/")
    rows = page.locator(".rec-row")
    expect(rows.filter(has_text="布洛芬缓释胶囊")).to_contain_text("个人账户 ¥32.80")
    expect(rows.filter(has_text="血糖试纸")).to_contain_text("已撤销")
    screenshot(page, "4-records-own")
    page.locator(".rec-pick__item", has_text="张*明").click()
    son = page.locator(".rec-row", has_text="阿莫西林颗粒")
    expect(son).to_contain_text("共济 ¥45.60")
    expect(son).to_contain_text("我代为出示")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "5-records-on-behalf")

    page.goto(base + "/messages/")
    unread = page.locator(".app-unread")
    assert unread.count() >= 3
    expect(unread.first).to_contain_text("邀请")
    expect(page.locator("main")).to_contain_text("家庭共济支付通知")
    screenshot(page, "6-messages")
    assert not problems, problems


def test_the_demo_reviewer_finds_the_jiangsu_application(live_server, phone, screenshot):
    with live_server.app.app_context():
        seed_demo()
    base = live_server.url
    page = phone()
    log_in(page, base, "13600000009", PASSWORD)
    expect(page).to_have_url(re.compile(r"/review/$"))
    row = page.locator(".rv-queue tbody tr", has_text="陈*涵")
    expect(row).to_contain_text("已等待")
    screenshot(page, "1-queue")
    row.get_by_role("link", name="审核").click()
    expect(page.locator("main")).to_contain_text("陈思涵")  # in full on the detail page
    expect(page.locator("main")).to_contain_text("陈志强")
    screenshot(page, "2-detail")
