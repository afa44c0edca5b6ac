"""The liveness check on a 390×844 phone with Chromium's fake camera: the holder starts adding a
family member, the face page asks for two random actions, shows them one after another with a
prompt and progress while it captures frames, posts them, and the server passes the sequence."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests import factories, helpers
from tests.browser import face_steps
from tests.helpers import watch
from webapp.extensions import db
from webapp.face.rules import ACTIONS
from webapp.models import AuditLog, FaceCheck

pytestmark = pytest.mark.browser


def seed(app, elder: bool = False) -> dict:
    with app.app_context():
        user = factories.user(name="赵丽华", age=41, male=False, region="360102")
        user.elder_mode = elder
        db.session.commit()
        return {"phone": user.phone, "person_id": user.person_id}


def open_binding_face_check(page, live_server, data) -> None:
    helpers.log_in(page, live_server.url, data["phone"])
    page.goto(live_server.url + "/family/add/")
    page.locator("form button[type=submit]").first.click()
    face_steps.wait_for_camera(page)


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_the_whole_sequence_on_a_phone(live_server, phone, screenshot, mode):
    data = seed(live_server.app, elder=mode == "elder")
    page = phone()
    problems = watch(page)
    open_binding_face_check(page, live_server, data)
    expect(page.locator("main")).to_contain_text("添加家庭成员需要验证是本人操作")
    if mode == "elder":
        expect(page.locator("html")).to_have_class(re.compile(r"\belder\b"))

    with live_server.app.app_context():
        check = db.session.scalars(db.select(FaceCheck)).one()
        asked = check.actions.split(",")
    labels = [ACTIONS[a][0] for a in asked]
    prompts = [ACTIONS[a][1] for a in asked]
    steps = page.locator("[data-face-step]")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_have_text(labels[0])
    expect(steps.nth(1)).to_have_text(labels[1])
    status = page.locator("[data-face-status]")
    expect(status).to_contain_text("依次完成：" + "、".join(labels))
    # A binding is never authorised by a photo: the page offers none.
    expect(page.locator("input[type=file]")).to_have_count(0)
    expect(page.locator("[data-face-no-photo]")).to_contain_text("不支持上传照片")
    screenshot(page, "1-ready")

    page.get_by_role("button", name="开始识别").click()
    # First action: its step is current, its prompt is shown, the progress fills.
    expect(steps.nth(0)).to_have_class(re.compile(r"app-steps__item_on"))
    expect(status).to_contain_text(prompts[0] + "（第1步，共2步）")
    expect(page.locator("[data-face-progress-box]")).to_be_visible()
    expect(page.locator("[data-face-progress-text]")).to_have_text(re.compile(r"已采集 [1-3]/6"))
    screenshot(page, "2-first-action")
    # Second action: the first is done, the second current.
    expect(steps.nth(1)).to_have_class(re.compile(r"app-steps__item_on"))
    expect(steps.nth(0)).to_have_class(re.compile(r"app-steps__item_done"))
    expect(status).to_contain_text(prompts[1] + "（第2步，共2步）")
    screenshot(page, "3-second-action")

    page.wait_for_url(lambda url: "/face/" not in url, timeout=face_steps.SEQUENCE_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/family/add/"))
    with live_server.app.app_context():
        db.session.expire_all()
        check = db.session.scalars(db.select(FaceCheck)).one()
        assert (check.result, check.method, check.purpose) == ("passed", "live", "kinship_add")
        log = db.session.scalars(db.select(AuditLog).filter_by(action="face_check.pass")).one()
        detail = json.loads(log.detail) if isinstance(log.detail, str) else log.detail
        assert detail["method"] == "live" and detail["code"] == "ok"
    assert not problems, problems


def test_a_refused_sequence_shows_the_reason_and_new_actions(live_server, phone, screenshot):
    """A camera covered mid-sequence (blank frames): refused in Chinese, a fresh attempt with
    its own actions is ready, and the retry with the camera uncovered passes."""
    data = seed(live_server.app)
    page = phone()
    open_binding_face_check(page, live_server, data)
    first_action = page.locator("[data-face-form]").get_attribute("action")
    # Cover the camera: every captured frame is drawn black.
    page.evaluate("""() => {
        const original = CanvasRenderingContext2D.prototype.drawImage;
        window.__restoreCamera = () => { CanvasRenderingContext2D.prototype.drawImage = original; };
        CanvasRenderingContext2D.prototype.drawImage = function () {
            this.fillStyle = '#000'; this.fillRect(0, 0, this.canvas.width, this.canvas.height);
        };
    }""")
    page.get_by_role("button", name="开始识别").click()
    expect(page.locator("[data-face-error]")).to_have_text(
        "画面过暗或被遮挡，未检测到人脸，请在光线充足处正对屏幕重试",
        timeout=face_steps.SEQUENCE_TIMEOUT_MS)
    expect(page.get_by_role("button", name="开始识别")).to_be_enabled()
    assert page.locator("[data-face-form]").get_attribute("action") != first_action
    expect(page.locator("[data-face-step]")).to_have_count(2)
    screenshot(page, "refused")
    page.evaluate("() => window.__restoreCamera()")
    page.get_by_role("button", name="开始识别").click()
    page.wait_for_url(lambda url: "/face/" not in url, timeout=face_steps.SEQUENCE_TIMEOUT_MS)
    with live_server.app.app_context():
        results = sorted(db.session.scalars(db.select(FaceCheck.result)))
        assert results == ["failed", "passed"]
