"""On a phone (390 px): the material step as WeUI's uploader — a page chosen uploads at once
and shows as a thumbnail, a second page too, a bad file is refused while the others stay, one
page is removed, 下一步 goes on; the camera is offered beside choosing a file."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories, helpers
from tests import kinship_factories as kf
from tests.helpers import upload, watch
from webapp.extensions import db
from webapp.kinship import pages as material_pages
from webapp.models import KinshipBinding


def seed(app):
    with app.app_context():
        user = factories.user(name="李华", age=35, region="360102")
        child = factories.person(name="李小明", age=8)
        return {"phone": user.phone, "child": child.id_number, "user": user.id}


def to_material_step(page, live_server, data) -> None:
    with live_server.app.app_context():
        from webapp.models import User

        kf.face_pass(db.session.get(User, data["user"]).person)
    page.goto(live_server.url + "/family/add/notice")
    page.get_by_label("我已阅读并同意《家庭成员添加告知书》").check()
    page.get_by_role("button", name="同意并继续").click()
    page.fill("#name", "李小明")
    page.select_option("#relation", label="子女")
    page.fill("#id_number", data["child"])
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/family/add/material$"))


def png(name: str, size=(900, 1200)) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": kf.png_bytes(size)}


def test_two_pages_one_removed_then_submitted(live_server, phone, screenshot):
    data = seed(live_server.app)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["phone"])
    to_material_step(page, live_server, data)

    uploader = page.locator(".weui-uploader")
    expect(uploader).to_contain_text("0/2")
    camera = page.locator('input[type=file][capture="environment"]')
    expect(camera).to_have_attribute("accept", "image/*")
    expect(page.get_by_text("拍照上传")).to_be_visible()
    expect(page.locator("[data-upload-button]")).to_be_hidden()  # JS uploads on choosing
    screenshot(page, "1-empty")

    page.select_option("#material_type", label="户口本")
    upload(page, "#file", [png("首页.png")])
    expect(page.locator("[data-page]")).to_have_count(1)
    expect(page.locator(".app-toast")).to_contain_text("已上传1页")
    upload(page, "#file", [png("本人页.png", (1200, 900))])
    expect(page.locator("[data-page]")).to_have_count(2)
    expect(uploader).to_contain_text("2/4")
    upload(page, "#file", [{"name": "x.png", "mimeType": "image/png",
                                          "buffer": b"<svg xmlns='http://www.w3.org/2000/svg'/>"}])
    expect(page.locator("#file-error")).to_contain_text("仅支持JPG、PNG或PDF格式的文件")
    expect(page.locator("[data-page]")).to_have_count(2)  # nothing lost on a bad page
    thumbs = page.locator("[data-page] img")
    expect(thumbs.first).to_be_visible()
    assert page.evaluate("() => [...document.querySelectorAll('[data-page] img')]"
                         ".every(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "2-two-pages")

    page.get_by_role("button", name="删除第1页").click()
    expect(page.locator("[data-page]")).to_have_count(1)
    expect(page.locator(".app-toast")).to_contain_text("已删除该页")
    screenshot(page, "3-one-removed")
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/family/add/letter$"))

    with live_server.app.app_context():
        from webapp.models import KinshipMaterial

        rows = db.session.query(KinshipMaterial).all()
        assert len(rows) == 1 and rows[0].material_type == "hukou"
        assert db.session.query(KinshipBinding).count() == 0
        assert material_pages.pages_of(rows[0])[0].page_no == 2
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width
    assert not [p for p in problems if "415" not in p], problems


def test_a_page_chosen_before_the_script_ran_is_still_uploaded(live_server, phone):
    """On a slow network a page can be chosen before uploader.js has run: its change event
    found no listener, and once the script hides 上传所选页面 the page would be stuck. The script
    sends what was already chosen."""
    data = seed(live_server.app)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["phone"])
    held = []
    page.route(re.compile(r"/static/js/uploader\.js"),  # held, and answered below
               lambda route: held.append(route), times=1)
    to_material_step(page, live_server, data)
    page.wait_for_selector("#file", state="attached")
    for _ in range(100):  # the script's request reaches the route while the page parses
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "uploader.js was never requested"
    expect(page.locator("[data-upload-button]")).to_be_visible()  # the script has not run
    page.select_option("#material_type", label="户口本")
    page.set_input_files("#file", files=[png("首页.png")])
    page.wait_for_timeout(300)
    assert page.locator("[data-page]").count() == 0  # nobody listened: nothing was sent yet
    with page.expect_navigation(wait_until="load", timeout=30_000):
        held[0].continue_()
    expect(page.locator("[data-page]")).to_have_count(1)
    expect(page.locator(".app-toast")).to_contain_text("已上传1页")
    assert not problems, problems
