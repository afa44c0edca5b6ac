"""On two phones: a holder invited his mother (62, no account yet); on her own phone she opens
the link, registers (and comes back to the invitation), passes the face check with the fake
front camera and accepts; the holder's 亲情账户 page then says 已绑定 and his inbox tells him."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories
from tests import lifecycle_factories as lf
from tests.browser import face_steps
from tests.helpers import watch
from webapp.extensions import db
from webapp.models import Invitation, KinshipBinding, User

MOTHER_PHONE = "13712345678"
MOTHER_PASSWORD = "mama2026ok"


def seed(app) -> dict:
    """The holder with a 待确认 binding of his mother and its invitation (through the service)."""
    with app.app_context():
        holder = factories.user(name="李建华", age=35, region="360102")
        mother = factories.person(name="张秀英", age=62, male=False, region="360102")
        binding, _, token = lf.invited(holder.person, mother, "parent")
        return {"phone": holder.phone, "token": token, "binding": binding.public_id,
                "mother": {"name": mother.name, "id_number": mother.id_number,
                           "id": mother.id}}


def look_into_the_camera(page) -> None:
    """Wait for the fake front camera to stream, 开始识别, do the asked actions."""
    face_steps.pass_face_check(page)


def test_mother_registers_from_the_link_and_accepts(live_server, phone, screenshot):
    data = seed(live_server.app)
    link = f"{live_server.url}/i/{data['token']}"

    # The holder, on his phone, sees the invitation waiting.
    his = phone()
    his_problems = watch(his)
    his.goto(live_server.url + "/auth/login")
    his.fill("#phone", data["phone"])
    his.fill("#password", factories.PASSWORD)
    his.get_by_role("button", name="登录").click()
    expect(his.locator(".app-welcome")).to_contain_text("您好")
    his.goto(live_server.url + "/family/")
    expect(his.locator(".app-family-intro")).to_contain_text("钱可以共济，卡不能共用")
    member = his.locator(f"a[href='/family/members/{data['binding']}']")
    expect(member).to_contain_text("张*英")
    expect(member).to_contain_text("待确认")
    screenshot(his, "1-holder-family-pending")

    # Her own phone: a separate browser context with no session.
    hers = phone()
    her_problems = watch(hers)
    hers.goto(link)
    expect(hers.locator(".app-invite-offer")).to_contain_text("李*华 邀请您")
    expect(hers.locator(".app-invite-offer")).to_contain_text("您是李*华的父母")
    expect(hers.locator("main")).to_contain_text("可以在就医、购药时代您出示医保码")
    expect(hers.locator("main")).to_contain_text("费用由您本人的医保账户支付")
    expect(hers.locator("main")).not_to_contain_text("李建华")
    screenshot(hers, "2-invitation-anonymous")

    hers.get_by_role("link", name="注册", exact=True).click()
    expect(hers).to_have_url(re.compile(r"/auth/register\?next="))
    hers.fill("#phone", MOTHER_PHONE)
    hers.fill("#password", MOTHER_PASSWORD)
    hers.fill("#confirm", MOTHER_PASSWORD)
    hers.fill("#name", data["mother"]["name"])
    hers.fill("#id_number", data["mother"]["id_number"])
    hers.check("#agree")
    hers.check("#agree_face")
    hers.get_by_role("button", name="下一步：人脸识别").click()
    expect(hers.locator("main")).to_contain_text("注册账号需要验证是本人操作")
    look_into_the_camera(hers)

    # Registration brings her back to the invitation, now logged in as herself.
    expect(hers).to_have_url(link)
    accept = hers.get_by_role("button", name="同意并进行人脸识别")
    expect(accept).to_be_visible()
    expect(hers.get_by_role("button", name="拒绝")).to_be_visible()
    expect(hers.locator(".app-invite-offer")).to_contain_text("张秀英")  # her own name
    screenshot(hers, "3-invitation-invitee")
    accept.click()
    expect(hers.locator("main")).to_contain_text("确认亲情账户绑定需要验证是本人操作")
    look_into_the_camera(hers)

    expect(hers).to_have_url(re.compile(r"/i/r/[\w-]+/confirm$"))
    expect(hers.locator(".app-result")).to_contain_text("人脸识别已通过")
    screenshot(hers, "4-confirm")
    hers.get_by_role("button", name="确认同意").click()
    expect(hers).to_have_url(re.compile(r"/i/r/[\w-]+/done$"))
    expect(hers.locator(".app-result")).to_contain_text("您已同意李*华的邀请")
    screenshot(hers, "5-done")
    hers.get_by_role("link", name="查看绑定我的人").click()
    expect(hers.locator("[data-bound-me]")).to_contain_text("李*华")
    expect(hers.locator("[data-bound-me]")).to_contain_text("已绑定")
    screenshot(hers, "6-bound-me")

    with live_server.app.app_context():
        user = db.session.scalars(db.select(User).filter_by(phone=MOTHER_PHONE)).one()
        assert user.person_id == data["mother"]["id"]
        binding = db.session.scalars(
            db.select(KinshipBinding).filter_by(public_id=data["binding"])).one()
        assert binding.status == "active" and binding.bound_at is not None
        invitation = db.session.scalars(db.select(Invitation)).one()
        assert invitation.outcome == "accepted"

    # Back on his phone: 已绑定, and a message.
    his.reload()
    expect(member).to_contain_text("已绑定")
    expect(his.locator(".app-tabbar .app-badge")).to_be_visible()
    screenshot(his, "7-holder-family-bound")
    his.goto(live_server.url + "/messages/")
    expect(his.locator("main")).to_contain_text("张*英已同意绑定")
    screenshot(his, "8-holder-inbox")
    member_page = live_server.url + f"/family/members/{data['binding']}"
    his.goto(member_page)
    expect(his.get_by_role("button", name="解除绑定")).to_be_visible()
    screenshot(his, "9-holder-member")

    assert not his_problems, his_problems
    assert not her_problems, her_problems


def test_a_stale_link_on_another_phone_gets_a_clear_page(live_server, phone, screenshot):
    data = seed(live_server.app)
    with live_server.app.app_context():
        inv = db.session.scalars(db.select(Invitation)).one()
        from webapp.invitations import services as invitations

        holder = db.session.get(Invitation, inv.id).inviter
        invitations.revoke(inv, holder, lf.ACTOR)
        db.session.commit()
    page = phone()
    response = page.goto(f"{live_server.url}/i/{data['token']}")
    assert response.status == 410
    expect(page.locator(".weui-msg__title")).to_have_text("邀请已被撤回")
    expect(page.locator("main")).to_contain_text("李*华")
    screenshot(page, "revoked")


def test_holder_resends_and_only_the_new_link_works(live_server, phone, screenshot):
    data = seed(live_server.app)
    his = phone()
    problems = watch(his)
    his.goto(live_server.url + "/auth/login")
    his.fill("#phone", data["phone"])
    his.fill("#password", factories.PASSWORD)
    his.get_by_role("button", name="登录").click()
    his.goto(live_server.url + "/family/")
    his.locator(f"a[href='/family/members/{data['binding']}']").click()
    expect(his.locator("main")).to_contain_text("等待张*英本人确认")
    screenshot(his, "1-member-pending")
    his.get_by_role("button", name="重新发送邀请").click()
    expect(his.locator(".app-invite")).to_contain_text("新的邀请链接")
    expect(his.locator(".app-qr svg")).to_be_visible()
    new_link = his.locator("#invite-link").input_value()
    assert new_link != f"{live_server.url}/i/{data['token']}"
    screenshot(his, "2-member-resent")

    hers = phone()
    old = hers.goto(f"{live_server.url}/i/{data['token']}")
    assert old.status == 410
    expect(hers.locator(".weui-msg__title")).to_have_text("邀请已被撤回")
    new = hers.goto(new_link)
    assert new.status == 200
    expect(hers.get_by_role("link", name="注册", exact=True)).to_be_visible()

    his.once("dialog", lambda dialog: dialog.accept())
    his.get_by_role("button", name="撤回邀请").click()
    expect(his.locator(".app-toast")).to_contain_text("已撤回邀请")
    expect(his.locator(".app-banner")).to_contain_text("已撤回，绑定未生效")
    screenshot(his, "3-member-withdrawn")
    assert hers.goto(new_link).status == 410
    assert not problems, problems
