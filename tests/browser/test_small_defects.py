"""Small defects of issue 11 item 9, in a 390×844 phone: the Jiangsu wizard says 待审核 where
the binding goes to review (and Jiangxi still says 直接绑定); the unread badge on 我的 is whole
inside the tab bar and the screen; message times leave the text its width."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests import kinship_factories as kf
from tests.helpers import log_in
from webapp.extensions import db
from webapp.messages import services as messages

pytestmark = pytest.mark.browser

JIANGSU, JIANGXI = "320102", "360102"


def seed_holder(app, region: str, unread: int = 0, elder: bool = False) -> dict:
    with app.app_context():
        holder = factories.user(name="王丽", age=34, male=False, region=region)
        child = factories.person(name="王小宝", age=5, region=region, insurance_type="resident")
        for i in range(unread):
            messages.send(holder.person, f"第{i + 1}条通知：您的家庭成员绑定申请有了新进展",
                          "请在亲情账户中查看详情，如有疑问请联系当地医保经办机构。", "kinship")
        kf.face_pass(holder.person)
        holder.elder_mode = elder
        db.session.commit()
        out = {"phone": holder.phone, "child_name": child.name, "child_id": child.id_number}
        db.session.remove()
        return out


def walk_to_material(page, base: str, data: dict, shoot=None, tag: str = "") -> str:
    """Start → 告知书 → 成员信息 (the live preview's words) → 上传材料; the preview text."""
    page.goto(base + "/family/add/")
    start_text = page.locator("main").inner_text()
    page.get_by_role("button", name=re.compile("开始添加")).click()
    expect(page).to_have_url(re.compile(r"/family/add/notice$"))
    page.locator("input[type=checkbox]").first.check()
    page.get_by_role("button", name="同意并继续").click()
    page.fill("#name", data["child_name"])
    page.select_option("#relation", label="子女")
    page.fill("#id_number", data["child_id"])
    preview = page.locator("#kinship-preview")
    expect(preview).to_contain_text("未满16周岁")
    preview_text = preview.inner_text()
    if shoot:
        shoot(page, f"{tag}-info")
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/family/add/material$"))
    if shoot:
        shoot(page, f"{tag}-material")
    return start_text + "\n" + preview_text + "\n" + page.locator("main").inner_text()


def test_jiangsu_wizard_says_pending_review_not_bound_at_once(live_server, phone, screenshot):
    data = seed_holder(live_server.app, JIANGSU)
    page = phone()
    log_in(page, live_server.url, data["phone"])
    words = walk_to_material(page, live_server.url, data, screenshot, "jiangsu")
    assert "直接绑定" not in words and "直接添加" not in words, words
    assert "待审核" in words, words
    assert "提交后待审核，审核通过后绑定" in words, words


def test_jiangxi_wizard_still_binds_at_once(live_server, phone):
    data = seed_holder(live_server.app, JIANGXI)
    page = phone()
    log_in(page, live_server.url, data["phone"])
    words = walk_to_material(page, live_server.url, data)
    assert "提交后直接绑定" in words and "由您上传证明材料直接绑定" in words, words
    assert "待审核，审核通过后" not in words, words


BADGE_BOX = """() => {
  const b = document.querySelector('.app-tabbar .app-badge');
  const bar = document.querySelector('.app-tabbar').getBoundingClientRect();
  const item = b.closest('.app-tabbar__item').getBoundingClientRect();
  const r = b.getBoundingClientRect();
  return {text: b.textContent.trim(), left: r.left, right: r.right, top: r.top,
          bottom: r.bottom, bar_top: bar.top, item_left: item.left, item_right: item.right,
          width: innerWidth, scroll_w: b.scrollWidth, client_w: b.clientWidth};
}"""


@pytest.mark.parametrize(("unread", "elder"), [(5, False), (120, False), (5, True), (120, True)])
def test_unread_badge_on_me_is_whole(live_server, phone, screenshot, unread, elder):
    data = seed_holder(live_server.app, JIANGXI, unread=unread, elder=elder)
    page = phone()
    log_in(page, live_server.url, data["phone"])
    page.goto(live_server.url + "/family/")
    box = page.evaluate(BADGE_BOX)
    page.locator(".app-tabbar").screenshot(
        path=str(screenshot(page, f"{unread}-{'elder' if elder else 'normal'}")).replace(
            ".png", "-tabbar.png"))
    assert box["text"] == ("99+" if unread > 99 else str(unread))
    assert box["top"] >= box["bar_top"], box            # not cut by the tab bar's top edge
    assert box["right"] <= box["item_right"], box      # inside its own tab (and the screen)
    assert box["right"] <= box["width"], box
    assert box["scroll_w"] <= box["client_w"], box     # the number itself is not cut


ROWS = """() => [...document.querySelectorAll('.weui-cells > a.weui-cell')].map((a) => {
  const row = a.getBoundingClientRect();
  const body = a.querySelector('.app-hint:not(.app-message__time)').getBoundingClientRect();
  const title = a.querySelector('.app-message__title');
  const time = a.querySelector('.app-message__time');
  const lh = parseFloat(getComputedStyle(time).lineHeight) || parseFloat(getComputedStyle(time).fontSize) * 1.5;
  return {row: row.width, body: body.width, time_h: time.getBoundingClientRect().height, lh,
          title_lines: Math.round(title.getBoundingClientRect().height / parseFloat(getComputedStyle(title).lineHeight))};
})"""


@pytest.mark.parametrize("elder", [False, True])
def test_message_times_leave_the_text_its_width(live_server, phone, screenshot, elder):
    data = seed_holder(live_server.app, JIANGXI, unread=3, elder=elder)
    page = phone()
    log_in(page, live_server.url, data["phone"])
    page.goto(live_server.url + "/messages/")
    screenshot(page, "elder" if elder else "normal")
    rows = page.evaluate(ROWS)
    assert len(rows) == 3
    for r in rows:
        assert r["body"] >= r["row"] - 72, r            # the body spans the row (less padding/arrow)
        assert r["time_h"] < 1.6 * r["lh"], r           # the time stays on one line
        assert r["title_lines"] <= 2, r


def test_the_unread_count_in_the_me_list_sits_inside_its_row(live_server, insured_phone, phone,
                                                              screenshot):
    """我的 › 消息 shows the count beside the arrow, whole (it was placed like the tab bar's
    badge and ran off the screen's edge: "99+" read as "99")."""
    from webapp.models import User

    with live_server.app.app_context():
        user = db.session.scalar(db.select(User).where(User.phone == insured_phone))
        for i in range(120):
            messages.send(user.person, f"支付通知{i}")
        db.session.commit()
        db.session.remove()
    page = phone()
    log_in(page, live_server.url, insured_phone)
    page.goto(f"{live_server.url}/auth/me")
    badge = page.locator(".app-badge_inline")
    expect(badge).to_have_text("99+")
    expect(badge).to_have_attribute("aria-label", "超过99条未读消息")
    box, row = badge.bounding_box(), page.locator("a.weui-cell", has=badge).bounding_box()
    assert box and row
    assert row["x"] <= box["x"] and box["x"] + box["width"] <= row["x"] + row["width"], (box, row)
    assert box["x"] + box["width"] <= 390
    screenshot(page, "me-99-plus")
