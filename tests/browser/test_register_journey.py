"""On a phone: home → 注册 → face check with the (fake) front camera → home → 长辈模式 → 退出."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser import face_steps
from tests.test_face import face_image
from webapp.extensions import db
from webapp.models import AuditLog, FaceCheck, User

pytestmark = pytest.mark.browser

PHONE = "13612345678"
PASSWORD = "mima2026ok"


def seed_person(app, **kw):
    with app.app_context():
        person = factories.person(**kw)
        return {"name": person.name, "id_number": person.id_number, "id": person.id}


def fill_registration(page, person) -> None:
    page.fill("#phone", PHONE)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.fill("#name", person["name"])
    page.fill("#id_number", person["id_number"])
    page.check("#agree")  # 用户协议 + 隐私政策
    page.check("#agree_face")  # the separate face-data consent


def test_register_with_the_camera_then_elder_mode_and_logout(live_server, phone, screenshot):
    person = seed_person(live_server.app, name="陈秀英", male=False, age=58, region="320102",
                         balance_fen=52_000)
    page = phone()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(live_server.url + "/")
    expect(page.locator(".app-welcome")).to_contain_text("欢迎使用亲情医保")
    screenshot(page, "1-home")
    page.get_by_role("link", name="注册", exact=True).click()
    expect(page).to_have_url(re.compile(r"/auth/register$"))

    fill_registration(page, person)
    screenshot(page, "2-register")
    page.get_by_role("button", name="下一步：人脸识别").click()

    expect(page).to_have_url(re.compile(r"/face/[\w-]+$"))
    expect(page.locator(".app-face-page")).to_contain_text("注册账号需要验证是本人操作")
    # The fake device really streams frames into the round preview; the two asked actions
    # are shown one after another while frames are captured.
    face_steps.pass_face_check(page, screenshot, "3-face")

    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("main")).to_contain_text("亲情账户")
    expect(page.locator("main")).to_contain_text("您好，陈*英")
    screenshot(page, "4-home-logged-in")

    with live_server.app.app_context():
        user = db.session.scalars(db.select(User).filter_by(phone=PHONE)).one()
        assert user.person_id == person["id"]
        check = db.session.scalars(db.select(FaceCheck)).one()
        assert check.result == "passed" and check.consumed_at is not None
        assert len(check.image_sha256) == 64 and check.method == "live"
        actions = set(db.session.scalars(db.select(AuditLog.action)))
        assert {"face_check.pass", "account.register"} <= actions

    page.locator(".app-tabbar").get_by_role("link", name="我的").click()
    expect(page).to_have_url(re.compile(r"/auth/me$"))
    expect(page.locator("main")).to_contain_text("陈*英")
    expect(page.locator("main")).to_contain_text("520.00")
    expect(page.locator("main")).to_contain_text("江苏")
    page.locator(".app-elder-switch").get_by_role("button", name="开启").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\belder\b"))
    page.reload()
    expect(page.locator("html")).to_have_class(re.compile(r"\belder\b"))
    expect(page.locator(".app-elder-switch")).to_contain_text("已开启")
    screenshot(page, "5-me-elder")

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator(".app-welcome")).to_contain_text("欢迎使用亲情医保")
    expect(page.get_by_role("link", name="登录", exact=True)).to_be_visible()
    screenshot(page, "6-logged-out")
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def test_register_with_the_photo_fallback(live_server, phone, screenshot, tmp_path):
    person = seed_person(live_server.app, name="周建国", age=66, region="360102")
    photo = tmp_path / "me.png"
    photo.write_bytes(face_image(size=(480, 480)))
    page = phone()
    page.goto(live_server.url + "/auth/register")
    fill_registration(page, person)
    page.get_by_role("button", name="下一步：人脸识别").click()
    expect(page).to_have_url(re.compile(r"/face/[\w-]+$"))
    expect(page.locator("input[type=file][capture=user]")).to_be_visible()
    page.set_input_files("input[type=file]", str(photo))
    page.get_by_role("button", name="上传照片识别").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("main")).to_contain_text("亲情账户")
    with live_server.app.app_context():
        assert db.session.scalars(db.select(User).filter_by(phone=PHONE)).one()


def test_flagged_person_fails_and_may_retry(live_server, phone, screenshot):
    person = seed_person(live_server.app, name="吴失败", face_check_fails=True)
    page = phone()
    page.goto(live_server.url + "/auth/register")
    fill_registration(page, person)
    page.get_by_role("button", name="下一步：人脸识别").click()
    face_steps.wait_for_camera(page)
    start = page.get_by_role("button", name="开始识别")
    first_action = page.locator("[data-face-form]").get_attribute("action")
    start.click()
    expect(page.locator("[data-face-error]")).to_have_text(
        "人脸识别未通过，请确认是本人操作", timeout=face_steps.SEQUENCE_TIMEOUT_MS)
    expect(start).to_be_enabled()
    assert page.locator("[data-face-form]").get_attribute("action") != first_action
    screenshot(page, "face-failed")
    with live_server.app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_camera_denied_shows_the_fallback(live_server, browser, screenshot):
    person = seed_person(live_server.app, name="郑无镜")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    try:
        page = context.new_page()
        # Without a camera API (as on plain http or an old browser) the page says so.
        page.add_init_script("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})")
        page.goto(live_server.url + "/auth/register")
        fill_registration(page, person)
        page.get_by_role("button", name="下一步：人脸识别").click()
        expect(page.locator("[data-face-unavailable]")).to_be_visible()
        expect(page.locator("[data-face-unavailable]")).to_contain_text("拍照或选择照片")
        expect(page.get_by_role("button", name="开始识别")).to_be_hidden()
        expect(page.get_by_role("button", name="上传照片识别")).to_be_visible()
        screenshot(page, "no-camera")
    finally:
        context.close()
