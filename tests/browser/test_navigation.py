"""On a phone: the ‹ arrow goes to the flow's parent page (never history), browser back after a
refused and after a successful POST lands on a GET page without re-sending the POST, a loading
toast shows on a slow network, 全部已读 answers with a toast."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests import factories, helpers
from tests import kinship_factories as kf
from tests.helpers import watch
from webapp.extensions import db


def seed(app, **kw):
    with app.app_context():
        user = factories.user(name="王建国", age=35, region="360102", balance_fen=10000, **kw)
        child = factories.person(name="王小明", age=8, region="360102")
        return {"phone": user.phone, "user": user.id, "child": child.id_number,
                "child_name": child.name}


def requests_of(page) -> list[tuple[str, str]]:
    """Every document request the page sends: (method, path)."""
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, re.sub(r"^https?://[^/]+", "", r.url)))
            if r.resource_type == "document" else None)
    return seen


def back_href(page) -> str:
    return page.locator("a.app-navbar__back").get_attribute("href") or ""


def test_back_arrow_goes_to_the_flows_parent(live_server, phone, screenshot):
    data = seed(live_server.app)
    page = phone()
    problems = watch(page)
    helpers.log_in(page, live_server.url, data["phone"])
    assert page.locator("[data-history]").count() == 0

    # The face check inside the add-member wizard: back to the wizard's start, not home.
    page.goto(live_server.url + "/family/add/")
    page.get_by_role("button", name=re.compile("开始添加")).click()
    expect(page).to_have_url(re.compile(r"/face/"))
    assert back_href(page) == "/family/add/"
    screenshot(page, "1-face-back")
    page.locator("a.app-navbar__back").click()
    expect(page).to_have_url(re.compile(r"/family/add/$"))

    # After adding a 共济 member: the member page's arrow goes to the group, not the form.
    with live_server.app.app_context():
        from tests.test_aid_rules import open_group
        from webapp.models import User

        open_group(db.session.get(User, data["user"]))
    page.goto(live_server.url + "/aid/members/add")
    page.fill("#name", data["child_name"])
    page.fill("#id_number", data["child"])
    page.select_option("#relation", label="子女")
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page).to_have_url(re.compile(r"/aid/members/[\w-]+$"))
    assert back_href(page) == "/aid/"
    page.locator("a.app-navbar__back").click()
    expect(page).to_have_url(re.compile(r"/aid/$"))
    expect(page.locator("main")).to_contain_text("王*明")
    assert not problems, problems


def test_browser_back_never_resends_a_post(live_server, phone, screenshot):
    data = seed(live_server.app)
    with live_server.app.app_context():
        from webapp.models import User

        kf.face_pass(db.session.get(User, data["user"]).person)
    page = phone()
    helpers.log_in(page, live_server.url, data["phone"])
    page.goto(live_server.url + "/family/add/notice")
    sent = requests_of(page)

    # A refused POST: 303 to the GET that shows the error.
    page.get_by_role("button", name="同意并继续").click()
    expect(page.locator(".app-error")).to_contain_text("请阅读并勾选同意告知书")
    assert ("POST", "/family/add/notice") in sent
    assert sent[-1] == ("GET", "/family/add/notice")
    screenshot(page, "2-refused")

    # Refused on the info step, then back: a normal page, no POST sent again.
    page.get_by_label("我已阅读并同意《家庭成员添加告知书》").check()
    page.get_by_role("button", name="同意并继续").click()
    expect(page).to_have_url(re.compile(r"/family/add/info$"))
    page.fill("#name", data["child_name"])
    page.fill("#id_number", "360102201501010010")
    page.select_option("#relation", label="子女")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#id_number-error")).to_contain_text("身份证号校验位错误")
    expect(page.locator("#name")).to_have_value(data["child_name"])
    before = len(sent)
    response = page.go_back()
    assert response is not None and response.request.method == "GET" and response.ok
    expect(page.locator("h1")).to_be_visible()
    assert all(method == "GET" for method, _ in sent[before:]), sent[before:]

    # After a successful POST: back shows the step again by GET.
    page.goto(live_server.url + "/family/add/info")
    page.fill("#id_number", data["child"])
    page.get_by_role("button", name="下一步").click()
    expect(page).to_have_url(re.compile(r"/family/add/material$"))
    before = len(sent)
    response = page.go_back()
    assert response is not None and response.request.method == "GET" and response.ok
    expect(page).to_have_url(re.compile(r"/family/add/info$"))
    expect(page.locator("#name")).to_have_value(data["child_name"])
    assert all(method == "GET" for method, _ in sent[before:]), sent[before:]
    screenshot(page, "3-back-after-success")


def slow_down(app, path: str, seconds: float) -> None:
    """Answer ``path`` only after ``seconds`` (the live server calls ``app.wsgi_app``)."""
    inner = app.wsgi_app

    def late(environ, start_response):
        if environ.get("PATH_INFO") == path:
            time.sleep(seconds)
        return inner(environ, start_response)

    app.wsgi_app = late


def test_loading_toast_on_a_slow_network(live_server, phone, screenshot):
    data = seed(live_server.app)
    page = phone()
    helpers.log_in(page, live_server.url, data["phone"])
    page.goto(live_server.url + "/messages/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 1500, "downloadThroughput": 20_000,
        "uploadThroughput": 20_000})
    slow_down(live_server.app, "/auth/me", seconds=4)  # and the server answers late
    # The tap and the look happen inside the page: Playwright's own calls wait for a
    # navigation in progress, so they cannot look at the page being left.
    seen = page.evaluate("""async () => {
      document.querySelector('a.app-navbar__back').click();
      const before = document.querySelectorAll('.app-loading').length;
      await new Promise(done => setTimeout(done, 900));
      const toast = document.querySelector('.app-loading .weui-toast');
      return [before, toast ? toast.textContent : ''];
    }""")
    assert seen == [0, "加载中"], seen  # not at once, but while the next page is slow
    page.wait_for_url(re.compile(r"/auth/me$"))
    expect(page.locator(".app-loading")).to_have_count(0)  # the new page has none
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    page.evaluate("() => window.appLoading.show()")  # the same toast, to look at
    screenshot(page, "4-loading")


def test_mark_all_read_answers(live_server, phone, screenshot):
    data = seed(live_server.app)
    with live_server.app.app_context():
        from webapp.messages import services as messages
        from webapp.models import User

        messages.send(db.session.get(User, data["user"]).person, "测试通知", "内容")
        db.session.commit()
    page = phone()
    helpers.log_in(page, live_server.url, data["phone"])
    page.goto(live_server.url + "/messages/")
    page.get_by_role("button", name="全部已读").click()
    expect(page.locator(".app-toast")).to_contain_text("已将1条消息标为已读")
    screenshot(page, "5-all-read")
    page.get_by_role("button", name="全部已读").click()
    expect(page.locator(".app-toast")).to_contain_text("没有未读消息")


def test_login_refused_then_back_and_reload_send_no_post(live_server, phone, screenshot):
    """A wrong password: POST → 303 → the login page by GET (the message and the phone kept,
    the password not); browser back, reload and forward then send GETs only."""
    data = seed(live_server.app)
    page = phone()
    problems = watch(page)
    sent = requests_of(page)
    page.goto(live_server.url + "/")
    page.goto(live_server.url + "/auth/login")
    page.fill("#phone", data["phone"])
    page.fill("#password", "wrong-pass1")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("手机号或密码错误")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/auth/login$"))
    expect(page.locator("#phone")).to_have_value(data["phone"])
    expect(page.locator("#password")).to_have_value("")
    assert [m for m, p in sent if p.startswith("/auth/login")] == ["GET", "POST", "GET"], sent
    screenshot(page, "4-login-refused")
    before = len(sent)
    response = page.reload()
    assert response is not None and response.request.method == "GET" and response.ok
    response = page.go_back()
    assert response is not None and response.request.method == "GET" and response.ok
    expect(page.locator("#password")).to_be_visible()
    response = page.go_forward()
    assert response is not None and response.request.method == "GET" and response.ok
    assert sent[before:] and all(method == "GET" for method, _ in sent[before:]), sent[before:]
    screenshot(page, "5-login-after-back")
    assert problems == [], problems
