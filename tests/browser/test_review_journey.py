"""Jiangsu: a holder adds a child → 待审核 (no code yet) → a reviewer at a PC rejects with a
reason → the holder reads it and resubmits a new material → a reviewer approves → the child's
医保码 is available. Messages at each step; screenshots in test-artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories
from tests import kinship_factories as kf
from tests.helpers import log_in
from tests.test_review import jiangsu_family, submit
from webapp.extensions import db
from webapp.models import AuditLog, KinshipBinding

PASSWORD = factories.PASSWORD


def seed(app):
    """A Jiangsu mother with a pending binding of her 5-year-old, and a reviewer."""
    with app.app_context():
        user, child = jiangsu_family(factories, holder_name="王丽", child_name="王小宝")
        binding = submit(user.person, child)
        reviewer = factories.staff(role="reviewer", name="审核员刘洋")
        return {
            "holder_phone": user.phone,
            "reviewer_phone": reviewer.phone,
            "binding": binding.public_id,
            "due": binding.review_due.isoformat(),
        }


def wrong(message) -> bool:
    """A console error other than a failed resource load (the favicon 404 and the expected
    400 of a refused form; unexpected 404s are caught from the responses instead)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def open_message(page, base: str, title: str) -> None:
    """Open the newest message with this title from the inbox (it leads to its link)."""
    page.goto(base + "/messages/")
    page.locator(".app-message__title", has_text=title).first.click()


def test_review_journey(live_server, browser, phone, screenshot, tmp_path):
    base = live_server.url
    data = seed(live_server.app)
    errors: list[str] = []

    holder = phone()
    holder.on("pageerror", lambda e: errors.append(str(e)))
    holder.on("console", lambda m: errors.append(m.text) if wrong(m) else None)
    holder.on("response", lambda r: errors.append(f"{r.status} {r.url}")
              if r.status == 404 else None)
    desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    desk.set_default_timeout(15_000)
    reviewer = desk.new_page()
    reviewer.on("pageerror", lambda e: errors.append(str(e)))
    reviewer.on("console", lambda m: errors.append(m.text) if wrong(m) else None)
    reviewer.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status == 404 else None)
    try:
        # --- the holder: 待审核, expected date, no code for the child yet -----------------
        log_in(holder, base, data["holder_phone"])
        holder.goto(base + "/messages/")
        expect(holder.locator("main")).to_contain_text("家庭成员添加申请已提交")
        holder.locator(".app-tabbar").get_by_role("link", name="家庭").click()
        member = holder.locator(".app-member", has_text="王*宝")
        expect(member).to_contain_text("待审核")
        member.click()
        expect(holder).to_have_url(re.compile(rf"/family/members/{data['binding']}$"))
        expect(holder.locator("main")).to_contain_text(f"预计 {data['due']} 前完成")
        screenshot(holder, "1-holder-member-pending")
        holder.get_by_role("link", name="查看审核进度").click()
        expect(holder).to_have_url(re.compile(rf"/review/my/{data['binding']}$"))
        expect(holder.locator("main")).to_contain_text("待审核")
        expect(holder.locator("main")).to_contain_text(data["due"])
        screenshot(holder, "1-holder-pending")
        holder.goto(base + "/code/")
        expect(holder.locator(".code-pick")).to_be_visible()
        expect(holder.locator(".code-pick")).not_to_contain_text("王*宝")
        screenshot(holder, "2-holder-codes-without-child")

        # --- a reviewer at a PC rejects with a reason ---------------------------------------
        log_in(reviewer, base, data["reviewer_phone"])
        expect(reviewer).to_have_url(re.compile(r"/review/$"))
        row = reviewer.locator(".rv-queue tbody tr", has_text="王*宝")
        expect(row).to_contain_text("已等待")
        screenshot(reviewer, "3-reviewer-queue")
        row.get_by_role("link", name="审核").click()
        expect(reviewer.locator(".rv-material__img")).to_be_visible()
        reviewer.wait_for_function(
            "() => { const i = document.querySelector('.rv-material__img');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        reviewer.wait_for_function(
            "() => { const i = document.querySelector('.rv-signature img');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        expect(reviewer.locator("main")).to_contain_text("5周岁")
        # The authority checks the material against both people in full (each view audited).
        expect(reviewer.locator("main")).to_contain_text("王小宝")
        expect(reviewer.locator(".rv-audited")).to_contain_text("记入审计日志")
        screenshot(reviewer, "4-reviewer-detail")
        reviewer.get_by_role("button", name="审核不通过").click()
        expect(reviewer.locator(".rv-reasons + .app-error")).to_contain_text("请选择不通过的原因")
        reviewer.get_by_label("材料不清晰").check()
        reviewer.fill("#note", "出生医学证明照片反光，看不清出生日期")
        screenshot(reviewer, "5-reviewer-reject-form")
        reviewer.get_by_role("button", name="审核不通过").click()
        expect(reviewer).to_have_url(re.compile(r"/review/$"))
        expect(reviewer.locator(".app-toast")).to_contain_text("已审核不通过")
        expect(reviewer.locator("main")).to_contain_text("暂无待审核的申请")

        # --- the holder reads the reason and resubmits a new material ----------------------
        open_message(holder, base, "家庭成员审核未通过")
        expect(holder).to_have_url(re.compile(rf"/review/my/{data['binding']}$"))
        expect(holder.locator(".rv-reason-text")).to_contain_text("材料不清晰")
        expect(holder.locator(".rv-reason-text")).to_contain_text("看不清出生日期")
        holder.locator(".app-tabbar").get_by_role("link", name="家庭").click()
        holder.locator(".app-member", has_text="王*宝").click()
        expect(holder).to_have_url(re.compile(rf"/family/members/{data['binding']}$"))
        expect(holder.locator(".app-banner_warn")).to_contain_text("材料不清晰")
        screenshot(holder, "6-holder-member-rejected")
        holder.get_by_role("link", name="查看原因并重新提交").click()
        expect(holder).to_have_url(re.compile(rf"/review/my/{data['binding']}$"))
        screenshot(holder, "6-holder-rejected")
        proof = tmp_path / "hukou.jpg"
        proof.write_bytes(kf.jpeg_bytes())
        holder.select_option("#material_type", "hukou")
        holder.set_input_files("input[type=file]", str(proof))
        holder.get_by_role("button", name="重新提交").click()
        expect(holder.locator(".app-toast")).to_contain_text("已重新提交")
        expect(holder.locator("main")).to_contain_text("待审核")
        screenshot(holder, "7-holder-resubmitted")
        holder.goto(base + "/messages/")
        expect(holder.locator("main")).to_contain_text("已重新提交审核")

        # --- a reviewer approves ----------------------------------------------------------------
        reviewer.goto(base + "/review/")
        reviewer.locator(".rv-queue tbody tr", has_text="王*宝").get_by_role(
            "link", name="审核").click()
        expect(reviewer.locator("main")).to_contain_text("户口本")
        expect(reviewer.locator(".rv-history")).to_contain_text("审核不通过")
        expect(reviewer.locator(".rv-history")).to_contain_text("重新提交审核")
        screenshot(reviewer, "8-reviewer-second-look")
        reviewer.get_by_role("button", name="审核通过").click()
        expect(reviewer.locator(".app-toast")).to_contain_text("已审核通过")
        reviewer.goto(base + "/review/?tab=done")
        expect(reviewer.locator(".rv-queue")).to_contain_text("已通过")
        screenshot(reviewer, "9-reviewer-done")

        # --- the holder: 已绑定, and the child's code is available ------------------------
        open_message(holder, base, "审核通过")
        expect(holder.locator("main")).to_contain_text("已绑定")
        screenshot(holder, "10-holder-approved")
        holder.locator(".app-tabbar").get_by_role("link", name="家庭").click()
        member = holder.locator(".app-member", has_text="王*宝")
        expect(member).to_contain_text("已绑定")
        member.click()
        expect(holder.get_by_role("link", name="出示医保码")).to_be_visible()
        holder.locator(".app-tabbar").get_by_role("link", name="医保码").click()
        holder.locator(".code-pick__item", has_text="王*宝").click()
        expect(holder).to_have_url(re.compile(rf"/code/{data['binding']}$"))
        expect(holder.locator("main")).to_contain_text("代")
        screenshot(holder, "11-holder-child-code")

        # --- the audit trail has the reviewer's decisions ---------------------------------------
        reviewer.goto(base + "/review/audit?action=review.rejected")
        expect(reviewer.locator(".rv-audit")).to_contain_text("审核不通过")
        screenshot(reviewer, "12-reviewer-audit")
    finally:
        desk.close()

    with live_server.app.app_context():
        binding = db.session.scalar(db.select(KinshipBinding).filter_by(public_id=data["binding"]))
        assert binding.status == "active"
        decided = db.session.scalars(db.select(AuditLog.action).where(
            AuditLog.action.in_(("review.approved", "review.rejected", "kinship.resubmitted"))
        )).all()
        assert sorted(decided) == ["kinship.resubmitted", "review.approved", "review.rejected"]
    assert not errors, errors


def test_reviewer_pages_work_on_a_phone(live_server, phone, screenshot):
    """PC first, but a reviewer on a phone can still read the queue and decide."""
    base = live_server.url
    data = seed(live_server.app)
    page = phone()
    log_in(page, base, data["reviewer_phone"])
    expect(page.locator(".rv-queue")).to_contain_text("王*宝")
    screenshot(page, "1-queue")
    page.get_by_role("link", name="审核", exact=True).click()
    expect(page.locator(".rv-material__img")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "2-detail")
    page.get_by_role("radio", name="其他").check()
    page.get_by_role("button", name="审核不通过").click()
    expect(page.locator("#note + .app-error")).to_contain_text("选择“其他”时请填写具体原因")
    page.fill("#note", "请上传户口本中孩子的那一页")
    page.get_by_role("button", name="审核不通过").click()
    expect(page.locator(".app-toast")).to_contain_text("已审核不通过")
    page.goto(base + "/review/audit")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "3-audit")
