"""At the counter: a mother shows her son's 医保码 on her phone, the pharmacy scans (types) the
code decoded from the screenshot's pixels, sees the 预结算 split, confirms ¥23.50, and her page
shows 已支付 without a reload; both sides see it in their records. The cashier then cancels from
the receipt: her 消费记录 shows 已撤销 and a fresh code shows the balance back. Optionally the
camera scanner reads a fake camera."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import log_in
from tests.test_codes import bind
from webapp.extensions import db

zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp decodes the QR independently")

CODE_RE = re.compile(r"^[23456789A-HJ-NP-Z]{18}$")


def seed(app) -> dict:
    """李红 (mother, 38) with an active binding to 张小明 (8, balance ¥20.00); a pharmacy."""
    with app.app_context():
        mother = factories.user(name="李红", age=38, male=False)
        child = factories.person(name="张小明", age=8, balance_fen=2000)
        binding = bind(mother.person, child, "child")
        shop = factories.pharmacy(name="仁心大药房", region="360000")
        staff = factories.staff(pharmacy_obj=shop, name="店员小王")
        out = {"mother": mother.phone, "staff": staff.phone, "binding": binding.public_id,
               "child_id": child.id_number}
        db.session.remove()
        return out


def balance_of(app, id_number: str) -> int:
    """A registry person's personal-account balance, read in the live server's process."""
    from webapp.models import InsuredPerson

    with app.app_context():
        person = db.session.scalar(db.select(InsuredPerson).filter_by(id_number=id_number))
        balance = person.account.balance_fen
        db.session.remove()
        return balance


def decode_qr_from_pixels(page, path: Path) -> str:
    """Screenshot the page, crop around the QR's box, decode with zxing-cpp (not our code)."""
    png = page.screenshot(path=str(path))
    image = Image.open(io.BytesIO(png)).convert("L")
    box = page.locator("[data-qr] svg").bounding_box()
    scale = image.width / page.viewport_size["width"]
    margin = 12
    crop = image.crop((int((box["x"] - margin) * scale), int((box["y"] - margin) * scale),
                       int((box["x"] + box["width"] + margin) * scale),
                       int((box["y"] + box["height"] + margin) * scale)))
    results = zxingcpp.read_barcodes(crop)
    assert len(results) == 1, "QR not found in the screenshot"
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def watch_errors(page) -> list[str]:
    """Collect console errors (CSP violations show up there) and page errors."""
    problems: list[str] = []

    def console(message) -> None:
        # The browser's own favicon probe is not the page's doing.
        if message.type == "error" and not message.location.get("url", "").endswith(
                "/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_mother_shows_sons_code_and_pharmacy_settles(live_server, phone, browser, screenshot,
                                                     tmp_path):
    data = seed(live_server.app)
    base = live_server.url

    # The mother's phone: 医保码 tab → her son → the code page.
    mom = phone()
    mom_problems = watch_errors(mom)
    log_in(mom, base, data["mother"])
    mom.goto(base + "/code/")
    expect(mom.locator("main")).to_contain_text("张*明")
    screenshot(mom, "1-picker")
    mom.get_by_role("link", name=re.compile("张\\*明")).click()
    expect(mom).to_have_url(re.compile(r"/code/" + re.escape(data["binding"]) + "$"))
    expect(mom.locator(".code-banner")).to_have_text("代 张*明（儿子）出示")
    expect(mom.locator(".code-card__name")).to_have_text("张*明")
    assert data["child_id"] not in mom.content()
    mom.evaluate("window.__sameDocument = true")

    code = decode_qr_from_pixels(mom, tmp_path / "code.png")
    screenshot(mom, "2-code")
    assert CODE_RE.match(code), code
    assert "张" not in code and data["child_id"][-4:] not in code

    # The pharmacy counter PC: scanner gun types the code + Enter.
    counter_context = browser.new_context(viewport={"width": 1280, "height": 800},
                                          locale="zh-CN")
    counter_context.set_default_timeout(15_000)
    desk = counter_context.new_page()
    desk_problems = watch_errors(desk)
    try:
        log_in(desk, base, data["staff"])
        desk.goto(base + "/pharmacy/")
        expect(desk.locator("#code")).to_be_focused()
        screenshot(desk, "3-scan")
        desk.keyboard.type(code)
        desk.keyboard.press("Enter")
        expect(desk).to_have_url(re.compile(r"/pharmacy/patient$"))
        card = desk.locator(".ph-patient")
        expect(card).to_contain_text("张*明")
        expect(card).to_contain_text("由 李*（母亲）代为出示")
        expect(card).to_contain_text("8 岁")
        expect(card).to_contain_text("职工医保")
        expect(card).to_contain_text("江西省")
        expect(card).to_contain_text("¥20.00")
        desk.fill("#amount", "23.50")
        desk.fill("#items", "小儿布洛芬混悬液 100ml×1瓶")
        screenshot(desk, "4-patient")
        desk.get_by_role("button", name="预结算").click()
        expect(desk).to_have_url(re.compile(r"/pharmacy/confirm$"))
        split = desk.locator("[data-split]")
        expect(split.locator("tr", has_text="费用总额")).to_contain_text("¥23.50")
        expect(split.locator("tr", has_text="个人账户支付")).to_contain_text("¥20.00")
        expect(split.locator("tr", has_text="家庭共济支付")).to_contain_text("¥0.00")
        expect(split.locator("tr", has_text="个人现金支付")).to_contain_text("¥3.50")
        assert balance_of(live_server.app, data["child_id"]) == 2000  # 预结算 moves nothing
        screenshot(desk, "4b-presettle")
        desk.get_by_label("患者已确认以上支付明细").check()
        desk.get_by_role("button", name="确认结算").click()
        expect(desk).to_have_url(re.compile(r"/pharmacy/receipts/[\w-]+$"))
        receipt_url = desk.url
        assert balance_of(live_server.app, data["child_id"]) == 0
        receipt = desk.locator(".ph-receipt")
        expect(receipt).to_contain_text("¥23.50")
        expect(receipt.locator("tr", has_text="个人账户支付")).to_contain_text("¥20.00")
        expect(receipt.locator("tr", has_text="个人现金支付")).to_contain_text("¥3.50")
        screenshot(desk, "5-receipt")
        desk.emulate_media(media="print")  # the printable receipt: no navigation, no buttons
        expect(desk.locator(".ph-nav")).to_be_hidden()
        expect(desk.get_by_role("button", name="打印结算单")).to_be_hidden()
        screenshot(desk, "5-receipt-print")
        desk.emulate_media(media="screen")

        # The mother's page learns about it by polling, without a reload.
        expect(mom.locator("[data-result]")).to_be_visible(timeout=15_000)
        expect(mom.locator("[data-result]")).to_contain_text("已支付 ¥23.50")
        expect(mom.locator("[data-result]")).to_contain_text("仁心大药房")
        assert mom.evaluate("window.__sameDocument") is True
        # …and has moved on to a fresh code.
        expect(mom.locator("[data-qr-box]")).to_be_visible()
        assert decode_qr_from_pixels(mom, tmp_path / "code2.png") != code
        screenshot(mom, "6-paid")

        # Records on both sides.
        desk.get_by_role("link", name="对账").click()
        expect(desk.locator(".ph-table")).to_contain_text("小儿布洛芬混悬液")
        expect(desk.locator(".ph-totals")).to_contain_text("¥23.50")
        screenshot(desk, "7-today")
        # (in a second tab: the code page stays open to hear of a later cancellation)
        records = mom.context.new_page()
        records.goto(base + mom.get_by_role("link", name="儿子的消费记录").get_attribute("href"))
        expect(records.locator(".rec-row").first).to_contain_text("仁心大药房")
        expect(records.locator(".rec-row").first).to_contain_text("¥23.50")
        expect(records.locator(".rec-month")).to_contain_text("¥23.50")
        screenshot(records, "8-records")

        # Scanning the same code again is refused.
        desk.goto(base + "/pharmacy/")
        desk.fill("#code", code)
        desk.keyboard.press("Enter")
        expect(desk.locator(".app-error")).to_contain_text("该医保码已使用")

        # The customer returns it: the cashier cancels from the receipt, with a reason.
        desk.goto(receipt_url)
        desk.get_by_role("link", name="撤销结算").click()
        expect(desk.locator("main")).to_contain_text("确认撤销这笔结算？")
        expect(desk.locator("tr", has_text="退回个人账户")).to_contain_text("¥20.00")
        desk.fill("#reason", "顾客退货")
        screenshot(desk, "9-cancel")
        desk.get_by_role("button", name="确认撤销").click()
        expect(desk).to_have_url(receipt_url)
        expect(desk.locator(".app-toast")).to_contain_text("已撤销结算，请当面退还顾客现金 ¥3.50")
        expect(desk.locator("[data-state]")).to_contain_text("已撤销")
        expect(desk.locator(".ph-receipt")).to_contain_text("顾客退货")
        expect(desk.get_by_role("link", name="撤销结算")).to_have_count(0)
        screenshot(desk, "10-cancelled")
        assert balance_of(live_server.app, data["child_id"]) == 2000  # the balance is back

        # The code page still open on her phone says the payment was undone, without a reload.
        mom.bring_to_front()
        expect(mom.locator("[data-result]")).to_contain_text("¥23.50 的支付已撤销", timeout=15_000)
        expect(mom.locator("[data-result]")).to_have_class(re.compile("code-result_undone"))
        assert mom.evaluate("window.__sameDocument") is True
        screenshot(mom, "11-code-page-cancelled")
        # The mother's 消费记录 shows the payment as cancelled, with the time and the reason.
        records.reload()
        first = records.locator(".rec-row").first
        expect(first).to_contain_text("已撤销")
        expect(first).to_contain_text("顾客退货")
        expect(records.locator(".rec-month")).to_contain_text("¥0.00")
        screenshot(records, "11-records-cancelled")
        records.goto(base + "/messages/")
        expect(records.locator("main")).to_contain_text("家人医保支付撤销通知")

        # 重新结算: a fresh code from her code page; the card shows the balance back at ¥20.00.
        mom.goto(f"{base}/code/{data['binding']}")
        expect(mom.locator("[data-qr-box]")).to_be_visible()
        fresh = decode_qr_from_pixels(mom, tmp_path / "code3.png")
        assert fresh != code
        desk.goto(receipt_url)
        desk.get_by_role("link", name="重新结算").click()
        expect(desk.locator("#code")).to_be_focused()
        desk.keyboard.type(fresh)
        desk.keyboard.press("Enter")
        expect(desk).to_have_url(re.compile(r"/pharmacy/patient$"))
        expect(desk.locator(".ph-patient")).to_contain_text("¥20.00")
        screenshot(desk, "12-resettle")
    finally:
        counter_context.close()
    assert not mom_problems, mom_problems
    assert not desk_problems, desk_problems


def test_offline_phone_keeps_the_code_and_offers_retry(live_server, phone, screenshot):
    """Offline: the QR stays until it expires (tests/browser/test_code_offline.py follows it
    to expiry), the page says so and offers 重试; back online it is fresh again."""
    data = seed(live_server.app)
    mom = phone()
    log_in(mom, live_server.url, data["mother"])
    mom.goto(f"{live_server.url}/code/{data['binding']}")
    expect(mom.locator("[data-qr-box]")).to_be_visible()
    mom.context.set_offline(True)
    expect(mom.locator("[data-offline]")).to_be_visible()
    expect(mom.locator("[data-offline]")).to_contain_text("网络已断开")
    expect(mom.locator("[data-offline]")).to_contain_text("当前码仍可出示")
    expect(mom.get_by_role("button", name="重试")).to_be_visible()
    expect(mom.locator("[data-qr-box]")).to_be_visible()
    screenshot(mom, "offline")
    mom.context.set_offline(False)
    mom.evaluate("window.dispatchEvent(new Event('online'))")
    expect(mom.locator("[data-qr-box]")).to_be_visible()
    expect(mom.locator("[data-offline]")).to_be_hidden()


def test_ended_binding_stops_the_code_page(live_server, phone, screenshot):
    """The binding ends while the page is open: the next refresh says so and hides the QR."""
    from webapp.models import KinshipBinding

    data = seed(live_server.app)
    mom = phone()
    log_in(mom, live_server.url, data["mother"])
    mom.goto(f"{live_server.url}/code/{data['binding']}")
    expect(mom.locator("[data-qr-box]")).to_be_visible()
    with live_server.app.app_context():
        binding = db.session.scalar(db.select(KinshipBinding))
        binding.status = "ended"
        db.session.commit()
        db.session.remove()
    mom.get_by_role("button", name="立即刷新").click()
    expect(mom.locator("[data-ended]")).to_contain_text("绑定已解除，无法继续出示")
    expect(mom.locator("[data-qr-box]")).to_be_hidden()
    screenshot(mom, "ended")


def test_expired_code_is_replaced_with_a_note(live_server, phone):
    """The server clock passes the code's 90 s: the poll notices, a fresh code replaces it."""
    from datetime import timedelta

    from webapp import clock

    data = seed(live_server.app)
    mom = phone()
    log_in(mom, live_server.url, data["mother"])
    mom.goto(live_server.url + "/code/me")
    first = mom.locator("[data-display]").inner_text()
    clock.shift(timedelta(seconds=95))
    expect(mom.locator("[data-note]")).to_have_text("该码已失效，已为您刷新", timeout=10_000)
    assert mom.locator("[data-display]").inner_text() != first


def write_y4m(path: Path, image: Image.Image, frames: int = 10) -> None:
    """A tiny Y4M video (4:2:0) showing a still image, for Chromium's fake camera."""
    gray = image.convert("L")
    w, h = gray.size
    chroma = bytes([128]) * ((w // 2) * (h // 2))
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n")
            f.write(gray.tobytes())
            f.write(chroma)
            f.write(chroma)


def test_camera_scanner_reads_a_code_from_the_fake_camera(live_server, browser, screenshot,
                                                          tmp_path):
    """The scan page's camera path (jsQR on video frames) fills the field and opens the card."""
    import qrcode

    from webapp.audit.services import Actor
    from webapp.codes import services as codes

    data = seed(live_server.app)
    with live_server.app.app_context():
        from webapp.models import User

        mother = db.session.scalar(db.select(User).filter_by(phone=data["mother"]))
        issued = codes.issue_code(mother, data["binding"], Actor(user=mother))
        db.session.remove()
    qr = qrcode.QRCode(box_size=10, border=4)
    qr.add_data(issued.code)
    picture = Image.new("L", (640, 480), 255)
    tile = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    tile = tile.resize((360, 360), Image.NEAREST)
    picture.paste(tile, ((640 - 360) // 2, (480 - 360) // 2))
    video = tmp_path / "qr.y4m"
    write_y4m(video, picture)

    camera_browser = browser.browser_type.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_ARGS + [f"--use-file-for-fake-video-capture={video}"])
    try:
        context = camera_browser.new_context(viewport={"width": 1280, "height": 800},
                                             locale="zh-CN", permissions=["camera"])
        context.set_default_timeout(20_000)
        desk = context.new_page()
        problems = watch_errors(desk)
        log_in(desk, live_server.url, data["staff"])
        desk.goto(live_server.url + "/pharmacy/")
        desk.get_by_role("button", name="打开摄像头").click()
        expect(desk).to_have_url(re.compile(r"/pharmacy/patient$"))
        expect(desk.locator(".ph-patient")).to_contain_text("由 李*（母亲）代为出示")
        screenshot(desk, "camera-card")
        assert not problems, problems
    finally:
        camera_browser.close()
