"""On a 390 px phone: register with the three consents (refused without the face-data one,
nothing typed lost) → face check → 我的 → 人脸信息授权 → 注销账户 with its confirmation →
login refused; the relative who bound the person hears of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.helpers import binding, watch
from webapp.accounts.states import AccountStatus
from webapp.extensions import db
from webapp.kinship.states import BindingStatus
from webapp.models import KinshipBinding, Message, User

pytestmark = pytest.mark.browser

PHONE = "13612345679"
PASSWORD = "mima2026ok"


def seed(app):
    with app.app_context():
        person = factories.person(name="林美华", male=False, age=45, region="360102",
                                  balance_fen=30_000)
        daughter = factories.user(name="林小雨", male=False, age=20, region="360102")
        binding(daughter.person, person, relation="parent")  # the daughter shows her code
        return {"name": person.name, "id_number": person.id_number,
                "daughter": daughter.person_id}


def test_register_with_consents_then_close_the_account(live_server, phone, screenshot):
    seeded = seed(live_server.app)
    page = phone()
    problems = watch(page)

    page.goto(live_server.url + "/auth/register")
    page.fill("#phone", PHONE)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.fill("#name", seeded["name"])
    page.fill("#id_number", seeded["id_number"])
    page.check("#agree")
    screenshot(page, "1-register")
    # Without the separate face-data consent: refused, everything typed still there.
    page.get_by_role("button", name="下一步：人脸识别").click()
    expect(page.locator("#agree_face-error")).to_contain_text("人脸信息处理规则")
    expect(page.locator("#id_number")).to_have_value(seeded["id_number"])
    expect(page.locator("#phone")).to_have_value(PHONE)
    expect(page.locator("#agree")).to_be_checked()
    screenshot(page, "2-refused-without-face-consent")
    # The document opens from the form (its own page, with its version).
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="《人脸信息处理规则》").click()
    doc = opened.value
    expect(doc.locator(".app-doc__title")).to_have_text("人脸信息处理规则")
    expect(doc.locator(".app-doc")).to_contain_text("版本：2026-01")
    screenshot(doc, "3-face-rules")
    doc.close()

    page.check("#agree_face")
    if not page.locator("#password").input_value():
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="下一步：人脸识别").click()
    expect(page).to_have_url(re.compile(r"/face/[\w-]+$"))
    start = page.get_by_role("button", name="开始识别")
    expect(start).to_be_enabled()
    page.wait_for_function("() => document.querySelector('[data-face-video]').videoWidth > 0")
    start.click()
    expect(page).to_have_url(live_server.url + "/", timeout=30_000)

    page.locator(".app-tabbar").get_by_role("link", name="我的").click()
    expect(page.locator("main")).to_contain_text("账户与安全")
    expect(page.locator("main")).to_contain_text("《隐私政策》")
    screenshot(page, "4-me")
    page.get_by_role("link", name="人脸信息授权").click()
    expect(page.locator("main")).to_contain_text("撤回同意意味着什么")
    expect(page.locator("main")).to_contain_text("已授权")
    screenshot(page, "5-face-consent")

    page.goto(live_server.url + "/auth/me")
    page.get_by_role("link", name="注销账户").click()
    expect(page).to_have_url(re.compile(r"/auth/close$"))
    main = page.locator("main")
    expect(main).to_contain_text("绑定我的人")
    expect(main).to_contain_text("林*雨")
    expect(main).to_contain_text("不能再登录")
    expect(main).to_contain_text("医疗保障基金使用监督管理条例")
    screenshot(page, "6-close-explained")
    # The confirmation is required besides the password.
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="确认注销账户").click()
    expect(page.locator("#confirm-error")).to_contain_text("请勾选确认")
    page.fill("#password", PASSWORD)
    page.check("#confirm")
    screenshot(page, "7-close-confirmed")
    page.get_by_role("button", name="确认注销账户").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("body")).to_contain_text("账户已注销")
    screenshot(page, "8-closed")

    page.goto(live_server.url + "/auth/login")
    page.fill("#phone", PHONE)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("main")).to_contain_text("该账户已注销，无法登录")
    screenshot(page, "9-login-refused")

    with live_server.app.app_context():
        user = db.session.scalars(db.select(User).filter_by(phone=PHONE)).one()
        assert user.status == AccountStatus.CLOSED
        bound = db.session.scalars(db.select(KinshipBinding)).one()
        assert bound.status == BindingStatus.ENDED
        told = set(db.session.scalars(db.select(Message.title).filter_by(
            recipient_person_id=seeded["daughter"])))
        assert {"林*华已解除与您的绑定", "林*华已注销亲情医保账户"} <= told
    assert not [p for p in problems if "Content Security Policy" in p], problems
