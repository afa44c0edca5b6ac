"""Pharmacy pages on a phone (360 and 390 px) and on a counter PC (1280 px): nothing wider
than the screen (document.scrollingElement.scrollWidth ≤ innerWidth), 继续扫码 whole on the
receipt, the store name and 退出登录 visible; 对账 shows cards on narrow screens and a table
on wide ones. Screenshots per width in test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.helpers import log_in
from tests.test_codes import bind, issue
from webapp.audit.services import Actor
from webapp.codes import cancel, settlement
from webapp.extensions import db

pytestmark = pytest.mark.browser

WIDTHS = [360, 390, 1280]
LONG_STORE = "仁心大药房（南昌市东湖区八一大道连锁店）"


def seed(app) -> dict:
    """A pharmacy with a long name and a day of settlements: own code, shown for a child
    (代出示), one cancelled; one fresh code left for the walk at the counter."""
    with app.app_context():
        mother = factories.user(name="李红", age=38, male=False, balance_fen=50_000)
        son = factories.person(name="张小明", age=8, balance_fen=2000)
        child = bind(mother.person, son, "child")
        shop = factories.pharmacy(name=LONG_STORE)
        clerk = factories.staff(pharmacy_obj=shop, name="店员王小敏")
        actor = Actor(user=clerk)
        done = []
        for key, amount, items in (("me", 2350, "布洛芬缓释胶囊 0.3g×24粒×1盒"),
                                   (child.public_id, 1280, "小儿氨酚黄那敏颗粒 6g×10袋×1盒，维生素C片"),
                                   ("me", 990, "医用外科口罩 10只装×2包")):
            code = issue(mother, key).code
            checked = settlement.verify(code, shop, actor)
            done.append(settlement.settle(checked.token, shop, actor, amount, items))
        cancel.cancel(done[2], shop, actor, "顾客退货")
        fresh = issue(mother).code
        out = {"clerk": clerk.phone, "receipt": done[0].public_id,
               "cancelled": done[2].public_id, "code": fresh}
        db.session.remove()
        return out


WIDTH_JS = """() => ({scroll: document.scrollingElement.scrollWidth, inner: innerWidth,
  wide: [...document.querySelectorAll('body *')].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > innerWidth + 0.5 && getComputedStyle(e).position !== 'fixed'
      && !e.closest('.ph-sr') && !e.closest('[hidden]');
  }).slice(0, 5).map((e) => e.tagName.toLowerCase() + '.' + [...e.classList].join('.'))})"""


def fully_visible(page, locator) -> None:
    """The element is shown, inside the screen horizontally, and its text is not cut."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    width = page.evaluate("innerWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (box, width)
    cut = locator.evaluate("(e) => e.scrollWidth > e.clientWidth + 1")
    assert not cut, "text cut inside " + locator.evaluate("(e) => e.outerHTML")


def check_page(page, label: str) -> None:
    page.wait_for_load_state()
    found = page.evaluate(WIDTH_JS)
    assert found["scroll"] <= found["inner"], f"{label}: {found}"
    fully_visible(page, page.locator(".ph-staff__who"))
    fully_visible(page, page.get_by_role("button", name="退出登录"))


@pytest.mark.parametrize("width", WIDTHS)
def test_pharmacy_pages_fit_the_screen(live_server, browser, screenshot, width):
    data = seed(live_server.app)
    phone = width < 500
    context = browser.new_context(viewport={"width": width, "height": 844 if phone else 900},
                                  device_scale_factor=2 if phone else 1, is_mobile=phone,
                                  has_touch=phone, locale="zh-CN")
    try:
        page = context.new_page()
        log_in(page, live_server.url, data["clerk"])
        base = live_server.url

        page.goto(base + "/pharmacy/")
        check_page(page, "扫码")
        expect(page.locator(".ph-staff__who")).to_contain_text("店员王小敏")
        screenshot(page, f"{width}-1-scan")
        page.fill("#code", data["code"])
        page.get_by_role("button", name="查询参保人").click()
        expect(page).to_have_url(re.compile(r"/pharmacy/patient$"))
        check_page(page, "参保人")
        page.fill("#amount", "12.80")
        page.fill("#items", "阿莫西林胶囊 0.25g×24粒×1盒")
        page.get_by_role("button", name="预结算").click()
        expect(page).to_have_url(re.compile(r"/pharmacy/confirm$"))
        check_page(page, "预结算")
        screenshot(page, f"{width}-2-confirm")

        page.goto(base + f"/pharmacy/receipts/{data['receipt']}")
        check_page(page, "结算单")
        fully_visible(page, page.get_by_role("link", name="继续扫码"))
        fully_visible(page, page.get_by_role("button", name="打印结算单"))
        screenshot(page, f"{width}-3-receipt")
        page.get_by_role("link", name="撤销结算").click()
        page.wait_for_url(re.compile(r"/cancel$"))  # the click only starts the navigation
        check_page(page, "撤销")
        fully_visible(page, page.get_by_role("link", name="不撤销"))
        page.goto(base + f"/pharmacy/receipts/{data['cancelled']}")
        check_page(page, "已撤销结算单")
        fully_visible(page, page.get_by_role("link", name="重新结算"))

        page.goto(base + "/pharmacy/reconciliation")
        check_page(page, "对账")
        rows = page.locator(".ph-table tbody tr")
        expect(rows).to_have_count(3)
        screenshot(page, f"{width}-4-reconciliation")
        display = page.locator(".ph-table").evaluate("(t) => getComputedStyle(t).display")
        header = page.locator(".ph-table thead")
        if phone:  # cards: each row a block, labels beside values, no header row
            assert display == "block", display
            expect(header).to_be_hidden()
            first = rows.first.bounding_box()
            assert first["width"] <= width, first
            assert page.locator(".ph-table td[data-label='总额']").first.evaluate(
                "(e) => getComputedStyle(e, '::before').content").strip('"') == "总额"
        else:      # a table with its header row
            assert display == "table", display
            expect(header).to_be_visible()
        for link in rows.get_by_role("link", name="结算单").all():
            fully_visible(page, link)
    finally:
        context.close()
