"""On a phone: a parent logs in and adds an 8-year-old child through every page of the wizard
(fake-camera face check, live preview, PNG upload, drawn signature) and sees 已绑定."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories, helpers
from tests import kinship_factories as kf
from tests.browser import face_steps
from tests.helpers import upload, watch
from webapp.extensions import db
from webapp.models import KinshipBinding


def seed(app):
    with app.app_context():
        user = factories.user(name="李华", age=35, region="360102")
        child = factories.person(name="李小明", age=8)
        mother = factories.person(name="张秀英", age=62, male=False)
        return {"phone": user.phone, "child_id": child.id_number, "mother_id": mother.id_number}


def log_in(page, live_server, phone_number: str) -> None:
    """The real login form; the home page greets the user."""
    helpers.log_in(page, live_server.url, phone_number)
    expect(page.locator(".app-welcome")).to_contain_text("您好")


def pass_face_check(page, shoot=None) -> None:
    """The fake front camera, 开始识别, the asked actions (screenshot once it streams)."""
    face_steps.pass_face_check(page, shoot, "2-face")


def draw_signature(page) -> None:
    """Sign with a few strokes across the canvas, as a finger would (once signature.js, a
    deferred script, has run: strokes before it would draw nothing)."""
    page.wait_for_load_state("load")
    box = page.locator("[data-signature-pad]").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    strokes = [
        [(0.10, 0.70), (0.20, 0.25), (0.30, 0.75), (0.40, 0.30)],
        [(0.45, 0.60), (0.60, 0.35), (0.70, 0.70), (0.90, 0.40)],
    ]
    for stroke in strokes:
        page.mouse.move(x + w * stroke[0][0], y + h * stroke[0][1])
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(x + w * fx, y + h * fy, steps=8)
        page.mouse.up()


def test_parent_adds_a_child_under_16(live_server, phone, screenshot):
    data = seed(live_server.app)
    page = phone()
    problems = watch(page)
    log_in(page, live_server, data["phone"])

    page.goto(live_server.url + "/family/add/")
    expect(page.locator("main")).to_contain_text("已绑定 0/5")
    screenshot(page, "1-start")
    page.get_by_role("button", name="开始添加（人脸识别）").click()
    expect(page.locator("main")).to_contain_text("添加家庭成员需要验证是本人操作")
    pass_face_check(page, screenshot)

    expect(page).to_have_url(re.compile(r"/family/add/notice$"))
    expect(page.locator(".app-steps__item_on")).to_contain_text("告知书")
    screenshot(page, "3-notice")
    page.get_by_role("button", name="同意并继续").click()
    expect(page.locator(".app-error")).to_contain_text("请阅读并勾选同意告知书")
    page.get_by_label("我已阅读并同意《家庭成员添加告知书》").check()
    page.get_by_role("button", name="同意并继续").click()

    expect(page).to_have_url(re.compile(r"/family/add/info$"))
    page.fill("#name", "李小明")
    page.select_option("#relation", label="父母")  # a slip: the preview says so at once
    page.fill("#id_number", data["child_id"])
    preview = page.locator("#kinship-preview")
    expect(preview).to_contain_text("父母的年龄应大于您的年龄")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#relation-error")).to_have_text("父母的年龄应大于您的年龄")
    expect(page.locator("#id_number")).to_have_value(data["child_id"])
    screenshot(page, "4a-info-refused")
    page.select_option("#relation", label="子女")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("未满16周岁，由您上传证明材料直接绑定")
    expect(preview).to_contain_text("参保状态：参保中")
    expect(preview).to_contain_text("已绑定 0/5")
    expect(preview).to_contain_text("可上传：出生医学证明、户口本")
    screenshot(page, "4-info")
    page.get_by_role("button", name="下一步").click()

    expect(page).to_have_url(re.compile(r"/family/add/material$"))
    upload(page, "#file", [{"name": "proof.png", "mimeType": "image/png",
                                          "buffer": b'<svg xmlns="http://www.w3.org/2000/svg"/>'}])
    expect(page.locator("#file-error")).to_have_text("仅支持JPG、PNG或PDF格式的文件")
    screenshot(page, "5a-material-refused")
    page.select_option("#material_type", label="出生医学证明")
    upload(page, "#file", [{"name": "出生证明.png", "mimeType": "image/png",
                                          "buffer": kf.png_bytes((900, 1200))}])
    expect(page.locator("[data-page]")).to_have_count(1)  # uploaded at once, as a thumbnail
    screenshot(page, "5-material")
    page.get_by_role("button", name="下一步").click()

    expect(page).to_have_url(re.compile(r"/family/add/letter$"))
    expect(page.locator(".app-doc")).to_contain_text("本承诺书经本人签名后生效")
    page.fill("#typed_name", "李华")
    page.get_by_role("button", name="签署并提交").click()  # not signed yet
    expect(page.locator(".app-error")).to_contain_text("请在签名区域手写签名")
    page.locator("[data-signature-pad]").scroll_into_view_if_needed()
    draw_signature(page)
    expect(page.locator("[data-signature-placeholder]")).to_be_hidden()
    screenshot(page, "6-letter")
    page.get_by_role("button", name="签署并提交").click()

    expect(page).to_have_url(re.compile(r"/family/add/result$"))
    expect(page.locator(".app-result")).to_contain_text("添加成功")
    expect(page.locator(".app-result")).to_contain_text("李*明（子女）已绑定")
    screenshot(page, "7-result")

    page.get_by_role("link", name="查看承诺书").click()
    expect(page.locator(".app-doc")).to_contain_text("个人承诺书")
    page.wait_for_function("() => { const i = document.querySelector('.app-signature__image');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    screenshot(page, "8-letter-view")

    with live_server.app.app_context():
        binding = db.session.scalars(db.select(KinshipBinding)).one()
        assert binding.status == "active"
        assert len(binding.letter.signature_png) > 500

    page.go_back()  # the 亲情账户 page lists the child
    page.get_by_role("link", name="返回亲情账户").click()
    expect(page.locator("main")).to_contain_text("李*明")
    expect(page.locator("main")).to_contain_text("已绑定")
    screenshot(page, "9-family")
    assert not problems, problems


def test_parent_of_16_plus_gets_a_link_and_qr(live_server, phone, screenshot):
    """For a mother of 62 the result page shows the invitation link, its QR and copy buttons."""
    data = seed(live_server.app)
    page = phone()
    problems = watch(page)
    log_in(page, live_server, data["phone"])
    page.goto(live_server.url + "/family/add/")
    page.get_by_role("button", name="开始添加（人脸识别）").click()
    pass_face_check(page)
    page.get_by_label("我已阅读并同意《家庭成员添加告知书》").check()
    page.get_by_role("button", name="同意并继续").click()
    page.fill("#name", "张秀英")
    page.select_option("#relation", label="父母")
    page.fill("#id_number", data["mother_id"])
    expect(page.locator("#kinship-preview")).to_contain_text("已满16周岁，需本人确认")
    page.get_by_role("button", name="下一步").click()
    page.select_option("#material_type", label="户口本")
    upload(page, "#file", [{"name": "hukou.pdf", "mimeType": "application/pdf",
                                          "buffer": kf.pdf_bytes()}])
    expect(page.locator("[data-page]")).to_have_count(1)
    page.get_by_role("button", name="下一步").click()
    page.fill("#typed_name", "李华")
    page.locator("[data-signature-pad]").scroll_into_view_if_needed()
    draw_signature(page)
    page.get_by_role("button", name="签署并提交").click()

    expect(page).to_have_url(re.compile(r"/family/add/result$"))
    expect(page.locator(".app-result")).to_contain_text("邀请已生成")
    expect(page.locator(".app-qr svg path")).to_have_count(1)
    link = page.locator("#invite-link").input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/i/[\w-]+", link), link
    page.get_by_role("button", name="复制链接").click()
    expect(page.locator(".app-toast")).to_contain_text("已复制")
    screenshot(page, "result")
    assert not problems, problems
