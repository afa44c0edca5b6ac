"""家庭共济 on phones: 王建国 (职工医保, ¥100.00) opens a group after a fake-camera face check,
adds his son (8) directly, invites his mother (62) who registers and accepts on her own phone
with her own face check; at the pharmacy counter her code is settled for ¥23.50 with only
¥5.00 of her own, the rest comes from his account; his 消费明细 shows it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser import face_steps
from tests.helpers import log_in, watch
from webapp.extensions import db
from webapp.models import AidMember, LedgerEntry, Settlement

pytestmark = pytest.mark.browser

MOTHER_PHONE = "13712345678"
MOTHER_PASSWORD = "mima2026ok"


def seed(app) -> dict:
    with app.app_context():
        owner = factories.user(name="王建国", age=35, region="360102", balance_fen=10000)
        son = factories.person(name="王小明", age=8, region="360102")
        mother = factories.person(name="李秀英", age=62, male=False, region="360102",
                                  balance_fen=500, phone=MOTHER_PHONE)
        shop = factories.pharmacy(name="仁心大药房", region="360000")
        staff = factories.staff(pharmacy_obj=shop, name="店员小王")
        out = {"owner": owner.phone, "son_id": son.id_number, "mother_id": mother.id_number,
               "staff": staff.phone}
        db.session.remove()
        return out


def pass_face_check(page, purpose_text: str) -> None:
    """The fake front camera streams; 开始识别."""
    expect(page).to_have_url(re.compile(r"/face/[\w-]+$"))
    expect(page.locator("main")).to_contain_text(purpose_text)
    face_steps.pass_face_check(page)


def test_owner_opens_adds_invites_and_pays_for_mother(live_server, phone, browser, screenshot):
    data = seed(live_server.app)
    base = live_server.url

    # --- the owner's phone: open the group --------------------------------------------------
    owner = phone()
    owner_problems = watch(owner)
    log_in(owner, base, data["owner"])
    owner.goto(base + "/")
    owner.locator(".app-grid").get_by_role("link", name="家庭共济").click()
    expect(owner).to_have_url(re.compile(r"/aid/$"))
    expect(owner.locator("main")).to_contain_text("什么是家庭共济")
    screenshot(owner, "1-intro")
    owner.get_by_role("link", name="开通家庭共济").click()
    expect(owner.locator("main")).to_contain_text("¥100.00")
    screenshot(owner, "2-create")
    owner.get_by_role("button", name="开始开通（人脸识别）").click()
    pass_face_check(owner, "开通家庭共济需要验证是本人操作")
    expect(owner).to_have_url(re.compile(r"/aid/create/notice$"))
    expect(owner.locator(".app-doc")).to_contain_text("职工医保个人账户家庭共济告知书")
    screenshot(owner, "3-notice")
    owner.get_by_role("button", name="同意并开通").click()
    expect(owner.locator(".app-error")).to_contain_text("请阅读并勾选同意《家庭共济告知书》")
    owner.get_by_label("我已阅读并同意《家庭共济告知书》").check()
    owner.get_by_role("button", name="同意并开通").click()
    expect(owner).to_have_url(re.compile(r"/aid/$"))
    expect(owner.locator(".aid-summary")).to_contain_text("¥100.00")
    expect(owner.locator(".aid-summary")).to_contain_text("共济成员 0/8")

    # --- add the son (8): joins at once --------------------------------------------------
    owner.get_by_role("link", name="添加共济成员").click()
    owner.fill("#name", "王小明")
    owner.fill("#id_number", data["son_id"])
    owner.select_option("#relation", label="子女")
    screenshot(owner, "4-add-child")
    owner.get_by_role("button", name="添加").click()
    expect(owner).to_have_url(re.compile(r"/aid/members/[\w-]+$"))
    expect(owner.locator("main")).to_contain_text("王*明（子女）")
    expect(owner.locator("main")).to_contain_text("已生效")

    # --- invite the mother (62): an invitation link --------------------------------------
    owner.goto(base + "/aid/members/add")
    owner.fill("#name", "李秀英")
    owner.fill("#id_number", data["mother_id"])
    owner.select_option("#relation", label="父母")
    owner.get_by_role("button", name="添加").click()
    expect(owner.locator(".app-result")).to_contain_text("等待李*英本人确认")
    expect(owner.locator(".app-qr svg")).to_be_visible()
    link = owner.locator("#invite-link").input_value()
    assert re.fullmatch(re.escape(base) + r"/i/[\w-]+", link), link
    owner.get_by_role("button", name="复制链接").click()
    expect(owner.locator(".app-toast").last).to_contain_text("已复制")
    screenshot(owner, "5-invite")
    owner.goto(base + "/aid/")
    expect(owner.locator(".aid-list")).to_contain_text("待确认")
    screenshot(owner, "6-members")

    # --- the mother's own phone: register from the link, face check, accept ---------------
    mom = phone()
    mom_problems = watch(mom)
    mom.goto(link)
    expect(mom.locator("main")).to_contain_text("您是王*国的父母")
    expect(mom.locator("main")).to_contain_text("个人账户")
    screenshot(mom, "7-invitation")
    mom.get_by_role("link", name="注册", exact=True).click()
    mom.fill("#phone", MOTHER_PHONE)
    mom.fill("#password", MOTHER_PASSWORD)
    mom.fill("#confirm", MOTHER_PASSWORD)
    mom.fill("#name", "李秀英")
    mom.fill("#id_number", data["mother_id"])
    mom.check("#agree")  # 用户协议 + 隐私政策
    mom.check("#agree_face")  # the separate face-data consent
    mom.get_by_role("button", name="下一步：人脸识别").click()
    pass_face_check(mom, "注册账号需要验证是本人操作")
    expect(mom).to_have_url(re.compile(r"/i/[\w-]+$"))
    mom.get_by_role("button", name="同意并进行人脸识别").click()
    pass_face_check(mom, "加入家庭共济需要验证是本人操作")
    expect(mom).to_have_url(re.compile(r"/confirm$"))
    mom.get_by_role("button", name="确认同意").click()
    expect(mom).to_have_url(re.compile(r"/done$"))
    screenshot(mom, "8-accepted")
    mom.goto(base + "/aid/joined")
    expect(mom.locator("main")).to_contain_text("王*国 的家庭共济")
    expect(mom.locator("main")).to_contain_text("¥100.00")
    screenshot(mom, "9-joined")

    with live_server.app.app_context():
        statuses = sorted(db.session.scalars(db.select(AidMember.status)))
        assert statuses == ["active", "active"]

    # --- at the counter: her own code, ¥23.50, only ¥5.00 of her own ----------------------
    mom.goto(base + "/code/me")
    expect(mom.locator("[data-display]")).to_be_visible()
    code = mom.locator("[data-display]").inner_text()
    screenshot(mom, "10-code")
    counter = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    counter.set_default_timeout(15_000)
    desk = counter.new_page()
    try:
        log_in(desk, base, data["staff"])
        desk.goto(base + "/pharmacy/")
        desk.fill("#code", code)
        desk.keyboard.press("Enter")
        expect(desk).to_have_url(re.compile(r"/pharmacy/patient$"))
        card = desk.locator(".ph-patient")
        expect(card).to_contain_text("李*英")
        expect(card).to_contain_text("本人出示")
        expect(card).to_contain_text("家庭共济可用")
        desk.fill("#amount", "23.50")
        desk.fill("#items", "硝苯地平控释片 30mg×7片")
        desk.get_by_role("button", name="预结算").click()
        expect(desk).to_have_url(re.compile(r"/pharmacy/confirm$"))
        split = desk.locator("[data-split]")
        expect(split.locator("tr", has_text="家庭共济支付")).to_contain_text("¥18.50")
        desk.get_by_label("患者已确认以上支付明细").check()
        desk.get_by_role("button", name="确认结算").click()
        expect(desk).to_have_url(re.compile(r"/pharmacy/receipts/[\w-]+$"))
        receipt = desk.locator(".ph-receipt")
        expect(receipt.locator("tr", has_text="个人账户支付")).to_contain_text("¥5.00")
        expect(receipt.locator("tr", has_text="共济支付")).to_contain_text("¥18.50")
        screenshot(desk, "11-receipt")
    finally:
        counter.close()

    with live_server.app.app_context():
        s = db.session.scalars(db.select(Settlement)).one()
        assert (s.account_fen, s.aid_fen, s.cash_fen) == (500, 1850, 0)
        entry = db.session.scalars(db.select(LedgerEntry).filter_by(kind="aid_payment")).one()
        assert (entry.amount_fen, entry.balance_after_fen) == (-1850, 10000 - 1850)
        assert entry.beneficiary_person_id == s.person_id

    # --- the owner's 消费明细 and messages ----------------------------------------------------
    owner.goto(base + "/aid/")
    expect(owner.locator(".aid-summary")).to_contain_text("¥81.50")
    expect(owner.locator(".aid-list")).to_contain_text("¥18.50")
    owner.get_by_role("link", name="消费明细", exact=True).click()
    expect(owner).to_have_url(re.compile(r"/aid/spending$"))
    row = owner.locator("[data-spending]").first
    expect(row).to_contain_text("李*英")
    expect(row).to_contain_text("仁心大药房")
    expect(row).to_contain_text("-¥18.50")
    expect(owner.locator("[data-totals]")).to_contain_text("¥18.50")
    screenshot(owner, "12-spending")
    owner.select_option("select[name=member]", label="王*明（子女）")
    expect(owner).to_have_url(re.compile(r"member="))
    expect(owner.locator("[data-spending]")).to_have_count(0)
    expect(owner.locator("[data-totals]")).to_contain_text("¥0.00")
    owner.goto(base + "/messages/")
    expect(owner.locator("main")).to_contain_text("家庭共济支付通知")

    # --- the mother leaves, with confirmation -----------------------------------------
    mom.goto(base + "/aid/joined")
    mom.once("dialog", lambda d: d.accept())
    mom.get_by_role("button", name="退出共济").click()
    expect(mom.locator("main")).to_contain_text("您目前不在任何家庭共济中")
    expect(mom.locator("main")).to_contain_text("已退出的共济")  # its 授权记录 stays reachable
    assert not owner_problems, owner_problems
    assert not mom_problems, mom_problems


def test_jiangsu_owner_with_zero_balance_sets_a_window(live_server, phone, screenshot):
    """Jiangsu: the zero-balance banner, the window/cap fields, a refusal on the field, the
    member page, and removing with a confirmation dialog."""
    from tests import kinship_factories as kf
    from webapp.aid import rules
    from webapp.aid import services as aid
    from webapp.audit.services import Actor

    app = live_server.app
    with app.app_context():
        owner = factories.user(name="周建华", age=40, region="320102", balance_fen=0)
        kf.face_pass(owner.person, rules.CREATE_PURPOSE)
        aid.create_group(owner.person, True, Actor(user=owner))
        kid = factories.person(name="周小华", age=9, region="320102")
        other = factories.person(name="周小芳", age=7, region="360102")
        data = {"owner": owner.phone, "kid": kid.id_number, "other": other.id_number}
        db.session.remove()
    base = live_server.url
    page = phone()
    problems = watch(page)
    log_in(page, base, data["owner"])
    page.goto(base + "/aid/")
    expect(page.locator("[data-zero-balance]")).to_contain_text("共济成员暂时不能使用您的余额支付")
    screenshot(page, "1-zero-balance")
    page.get_by_role("link", name="添加共济成员").click()
    page.fill("#name", "周小芳")
    page.fill("#id_number", data["other"])
    page.select_option("#relation", label="子女")
    page.get_by_role("button", name="添加").click()
    expect(page.locator("#id_number-error")).to_have_text("共济成员须在同一省份参保")
    screenshot(page, "2-refused")
    page.fill("#name", "周小华")
    page.fill("#id_number", data["kid"])
    page.fill("#ends_on", "2099-12-31")
    page.fill("#monthly_cap", "200")
    screenshot(page, "3-window")
    page.get_by_role("button", name="添加").click()
    expect(page).to_have_url(re.compile(r"/aid/members/[\w-]+$"))
    expect(page.locator("main")).to_contain_text("每月限额¥200.00")
    screenshot(page, "4-member")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="移除成员").click()
    expect(page).to_have_url(re.compile(r"/aid/$"))
    expect(page.locator(".aid-list")).to_contain_text("已移除")
    screenshot(page, "5-removed")
    assert not problems, problems
