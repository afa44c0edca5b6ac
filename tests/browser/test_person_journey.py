"""A family member's page on a 390 px phone: 李红 opens the home (large 医保码 entry, her
balance), taps her son's avatar on 家庭, sees his 本年医疗费用 chart and records, opens one, and
reads its 结算详情 (items, split, who showed the code); a cancelled one says when and why. The
same walk in 长辈模式 shows the row chart and the simpler home. Screenshots of each page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.helpers import log_in, watch
from tests.test_codes import bind
from webapp import clock
from webapp.extensions import db
from webapp.models import Settlement, User

pytestmark = pytest.mark.browser


def seed(app) -> dict:
    """李红 (38, ¥88.00) bound to her son 李小明 (8) and her mother 王秀英 (66); his purchases
    over this year, one cancelled."""
    with app.app_context():
        mother = factories.user(name="李红", age=38, male=False, balance_fen=8800)
        son = factories.person(name="李小明", age=8, balance_fen=2000)
        grandma = factories.person(name="王秀英", age=66, male=False)
        binding = bind(mother.person, son, "child")
        bind(mother.person, grandma, "parent")
        shop = factories.pharmacy(name="仁心大药房")
        other = factories.pharmacy(name="康复大药房")
        now = clock.now()
        lines = [
            (shop, 2350, "布洛芬混悬液×1 ¥23.50", 0),
            (other, 4680, "小儿感冒颗粒×2 ¥31.80；体温计×1 ¥14.99", 30),
            (shop, 1250, "维生素D滴剂×1 ¥12.50", 75),
            (other, 9900, "雾化吸入器×1 ¥99.00", 160),
        ]
        made = []
        for pharmacy, fen, items, days in lines:
            account = min(fen, 2000) if days else 0
            s = Settlement(pharmacy_id=pharmacy.id, person_id=son.id, total_fen=fen,
                           account_fen=account, cash_fen=fen - account, items=items,
                           holder_person_id=mother.person.id, binding_id=binding.id,
                           created_at=now - timedelta(days=days, hours=1))
            db.session.add(s)
            made.append(s)
        cancelled = Settlement(pharmacy_id=shop.id, person_id=son.id, total_fen=1800,
                               account_fen=0, cash_fen=1800, items="止咳糖浆×1 ¥18.00",
                               status="cancelled", cancelled_at=now - timedelta(minutes=20),
                               cancel_reason="顾客退货", created_at=now - timedelta(minutes=30))
        db.session.add(cancelled)
        db.session.commit()
        out = {"mother": mother.phone, "son": son.public_id, "first": made[0].public_id,
               "cancelled": cancelled.public_id, "user_id": mother.id}
        db.session.remove()
        return out


# Every element of the page body (not the shared navbar / tab bar) that has text of its own:
# its computed font size; and every link's box.
SMALL_TEXT = """() => [...document.querySelectorAll('main *')].filter(e => {
  const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const r = e.getBoundingClientRect();
  return own && r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
}).map(e => [e.tagName + '.' + (e.getAttribute('class') || ''), e.textContent.trim().slice(0, 12),
             parseFloat(getComputedStyle(e).fontSize)]).filter(x => x[2] < 18)"""
SMALL_TARGETS = """(least) => [...document.querySelectorAll('main a, main button')].map(e => {
  const r = e.getBoundingClientRect();
  return [e.getAttribute('class') || e.tagName, e.textContent.trim().slice(0, 12),
          Math.round(r.width), Math.round(r.height)];
}).filter(x => x[2] > 0 && (x[2] < least || x[3] < least))"""


def assert_elder_sizes(page) -> None:
    """长辈模式 on this page's own content: text ≥ 18 px, links ≥ 60×60 px."""
    assert page.evaluate(SMALL_TEXT) == []
    assert page.evaluate(SMALL_TARGETS, 60) == []


def set_elder(app, user_id: int, on: bool) -> None:
    with app.app_context():
        db.session.get(User, user_id).elder_mode = on
        db.session.commit()
        db.session.remove()


def test_home_avatar_person_page_record_detail(live_server, phone, screenshot):
    data = seed(live_server.app)
    base = live_server.url
    page = phone()
    problems = watch(page)
    log_in(page, base, data["mother"])

    page.goto(base + "/")
    expect(page.locator("[data-home-code]")).to_contain_text("医保码")
    expect(page.locator("[data-home-balance]")).to_contain_text("¥88.00")
    code_box = page.locator("[data-home-code]").bounding_box()
    assert code_box["height"] >= 90 and code_box["width"] >= 340
    screenshot(page, "1-home")
    assert page.evaluate(SMALL_TARGETS, 44) == []

    page.get_by_role("link", name="家庭").last.click()
    expect(page).to_have_url(re.compile(r"/family/$"))
    strip = page.locator("[data-family-strip]")
    expect(strip).to_contain_text("儿子")
    expect(strip).to_contain_text("母亲")
    screenshot(page, "2-family")
    assert page.evaluate(SMALL_TARGETS, 44) == []
    strip.locator("a", has_text="儿子").click()

    expect(page).to_have_url(re.compile(rf"/family/people/{data['son']}$"))
    main = page.locator("main")
    expect(main).to_contain_text("代儿子出示医保码")
    expect(main).to_contain_text("医疗费用")
    assert "个人账户余额" not in main.inner_text()
    chart = page.locator("svg[data-chart=bars]")
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() == clock.today().month
    assert chart.bounding_box()["width"] >= 320
    screenshot(page, "3-person")
    assert page.evaluate(SMALL_TARGETS, 44) == []

    page.locator(f"a[href='/records/{data['first']}']").click()
    expect(page).to_have_url(re.compile(rf"/records/{data['first']}$"))
    expect(page.locator(".app-navbar__title")).to_have_text("结算详情")
    expect(main).to_contain_text("布洛芬混悬液")
    expect(main).to_contain_text("我代为出示")
    expect(main).to_contain_text("仁心大药房")
    screenshot(page, "4-detail")
    assert page.evaluate(SMALL_TARGETS, 44) == []

    page.goto(base + f"/records/{data['cancelled']}")
    expect(page.locator("[data-cancelled]")).to_contain_text("顾客退货")
    screenshot(page, "5-cancelled")

    # 长辈模式: the row chart with large labels, and the simpler home
    set_elder(live_server.app, data["user_id"], True)
    page.goto(base + f"/family/people/{data['son']}")
    rows = page.locator("svg[data-chart=rows]")
    expect(rows).to_be_visible()
    sizes = rows.locator("text").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)")
    assert sizes and min(sizes) >= 17  # rendered glyph boxes of 20-unit text at ~1:1
    screenshot(page, "6-person-elder")
    assert_elder_sizes(page)
    page.goto(base + f"/records/{data['cancelled']}")
    assert_elder_sizes(page)
    screenshot(page, "6b-detail-elder")
    page.goto(base + "/family/")
    screenshot(page, "2b-family-elder")
    assert page.locator("[data-family-strip]").evaluate(
        "n => [...n.querySelectorAll('a')].every(a => a.getBoundingClientRect().height >= 60)")
    page.goto(base + "/")
    expect(page.locator("[data-elder-home] a")).to_have_count(3)
    for box in page.locator("[data-elder-home] a").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"):
        assert box >= 60
    screenshot(page, "7-home-elder")
    assert_elder_sizes(page)
    assert not problems, problems


def test_aid_owner_sees_a_chart_per_member_and_the_share_detail(live_server, phone, screenshot):
    """王建国's 消费明细: one chart per member; the payer's 结算详情 has no 出示人."""
    from tests.test_aid_rules import accept, add, make_owner, open_group
    from tests.test_codes import issue
    from tests.test_settlement import pay

    app = live_server.app
    with app.app_context():
        owner = make_owner(factories, balance_fen=100000)
        open_group(owner)
        son = factories.user(name="王小明", age=20)
        wife = factories.user(name="陈丽", age=33, male=False)
        accept(add(owner.person, son.person, "child").member)
        accept(add(owner.person, wife.person, "spouse").member)
        shop = factories.pharmacy(name="仁心大药房")
        staff = factories.staff(pharmacy_obj=shop)
        pay(issue(son).code, (shop, staff), amount_fen=2350,
            items="布洛芬缓释胶囊×1 ¥23.50")
        paid = pay(issue(wife).code, (shop, staff), amount_fen=4600,
                   items="阿莫西林胶囊×2 ¥46.00")
        data = {"owner": owner.phone, "paid": paid.public_id}
        db.session.remove()

    page = phone()
    problems = watch(page)
    log_in(page, live_server.url, data["owner"])
    page.goto(live_server.url + "/aid/spending")
    charts = page.locator("[data-member-chart]")
    expect(charts).to_have_count(2)
    expect(charts.first).to_contain_text("陈*")
    expect(charts.first.locator("svg[data-chart=bars]")).to_be_visible()
    screenshot(page, "spending")
    page.locator(f"a[data-spending][href$='/records/{data['paid']}']").click()  # the row opens it
    expect(page).to_have_url(re.compile(rf"/records/{data['paid']}$"))
    main = page.locator("main")
    expect(main).to_contain_text("阿莫西林胶囊")
    expect(main).to_contain_text("（您的账户）")
    assert "代为出示" not in main.inner_text() and "出示医保码" not in main.inner_text()
    screenshot(page, "payer-detail")
    assert not problems, problems
