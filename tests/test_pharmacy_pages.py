"""Pharmacy staff pages: scan → patient card → settle → receipt; today's list; access."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.helpers import refused_page
from tests.test_codes import end, family, issue, login
from tests.test_settlement import money_snapshot
from webapp import clock
from webapp.extensions import db
from webapp.models import InsuranceCode, Settlement


@pytest.fixture
def counter(app, client, factory):
    """A logged-in staff member of 仁心大药房 (江西)."""
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    staff = factory.staff(pharmacy_obj=pharmacy, name="店员小王")
    login(client, staff)
    return pharmacy, staff


def scan(client, code: str):
    """Type / scanner-gun a code into the scan form."""
    return refused_page(client, client.post("/pharmacy/", data={"code": code}))


def presettle(client, amount: str = "23.50", items: str = "布洛芬缓释胶囊 0.3g×20粒 1盒"):
    """Submit amount + items of the patient card: 预结算 (moves nothing)."""
    return refused_page(client, client.post("/pharmacy/patient",
                                            data={"amount": amount, "items": items}))


MSGID_RE = re.compile(r'name="msgid" type="hidden" value="([0-9A-Za-z]+)"')


def pending_msgid(client) -> str:
    """The msgid the confirm page carries (as a browser would submit it)."""
    html = client.get("/pharmacy/confirm").get_data(as_text=True)
    found = MSGID_RE.search(html)
    assert found, html
    return found.group(1)


def confirm(client, msgid: str | None = None):
    """患者确认 → 确认结算 with the confirm page's msgid."""
    msgid = msgid or pending_msgid(client)
    return client.post("/pharmacy/confirm", data={"msgid": msgid, "confirmed": "y"})


def settle(client, amount: str = "23.50", items: str = "布洛芬缓释胶囊 0.3g×20粒 1盒"):
    """The whole counter flow after scanning: 预结算, then 确认结算 (presettle's answer if refused)."""
    response = presettle(client, amount, items)
    if response.status_code != 302 or not response.headers["Location"].endswith("/confirm"):
        return response
    return confirm(client)


# ---- access -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/pharmacy/", "/pharmacy/patient", "/pharmacy/today",
                                  "/pharmacy/receipts/abc"])
def test_insured_users_get_403(app, client, factory, path):
    """参保人 accounts are not pharmacy staff."""
    login(client, factory.user())
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/pharmacy/", "/pharmacy/today"])
def test_anonymous_is_sent_to_login(app, client, path):
    """Not logged in → the login page."""
    response = client.get(path)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_reviewer_gets_403(app, client, factory):
    """Reviewers are not pharmacy staff either."""
    login(client, factory.staff(role="reviewer"))
    assert client.get("/pharmacy/").status_code == 403


# ---- the scan page ------------------------------------------------------------------------------

def test_scan_page_has_autofocus_field_camera_and_no_tabbar(app, client, counter):
    """A focused text field for the scanner gun, the camera block with jsQR, no bottom tab bar."""
    html = client.get("/pharmacy/").get_data(as_text=True)
    assert 'name="code"' in html and "autofocus" in html
    assert "data-camera-start" in html and "jsqr" in html.lower()
    assert "app-tabbar" not in html
    assert "js/scanner.js" in html and "css/pharmacy.css" in html
    assert ' style="' not in html and "<script>" not in html


def test_typed_code_opens_the_patient_card(app, client, factory, counter):
    """Masked name, age, gender, type, region, balance, 本人出示."""
    user = factory.user(name="张小明", age=30, balance_fen=12345)
    response = scan(client, issue(user).code.lower())  # a person may type lowercase
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/pharmacy/patient")
    html = client.get("/pharmacy/patient").get_data(as_text=True)
    for text in ("张*明", "30 岁", "男", "职工医保", "江西省", "¥123.45", "本人出示"):
        assert text in html, text
    assert "张小明" not in html and user.person.id_number not in html
    # Outside every 家庭共济 group the card does not promise a 共济 payment.
    assert "先扣个人账户，不足部分由顾客现金支付" in html and "家庭共济" not in html


def test_card_of_a_code_shown_on_behalf(app, client, factory, counter):
    """由 李*（母亲）代为出示."""
    mother, child, binding = family(factory)
    scan(client, issue(mother, binding.public_id).code)
    html = client.get("/pharmacy/patient").get_data(as_text=True)
    assert "由 李*（母亲）代为出示" in html and "张*明" in html and "8 岁" in html


def test_settle_leads_to_the_receipt_with_the_split(app, client, factory, counter):
    """¥23.50 against ¥20.00: receipt says 个人账户支付 ¥20.00, 个人现金支付 ¥3.50."""
    user = factory.user(name="张小明", balance_fen=2000)
    scan(client, issue(user).code)
    response = settle(client)
    assert response.status_code == 302 and "/pharmacy/receipts/" in response.headers["Location"]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    for text in ("仁心大药房", "费用总额", "¥23.50", "个人账户支付", "¥20.00", "共济支付", "¥0.00",
                 "个人现金支付", "¥3.50", "布洛芬缓释胶囊", "店员小王", "data-print"):
        assert text in html, text
    assert user.person.account.balance_fen == 0
    # The card is gone with the token: back to scanning.
    assert client.get("/pharmacy/patient").status_code == 302


@pytest.mark.parametrize("make,message", [
    (lambda f, u: "NOT-A-CODE", "无效的医保码"),
    (lambda f, u: issue(u).code, "医保码已过期，请让顾客刷新后重新出示"),
])
def test_unknown_and_expired_codes_are_refused_on_the_scan_page(app, client, factory, counter,
                                                                 make, message):
    """The scan page shows the refusal; no card, no money."""
    user = factory.user(balance_fen=5000)
    code = make(factory, user)
    clock.shift(timedelta(seconds=95))
    before = money_snapshot()
    response = scan(client, code)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert money_snapshot() == before


def test_used_code_is_refused_on_the_scan_page(app, client, factory, counter):
    """该医保码已使用."""
    user = factory.user(balance_fen=5000)
    code = issue(user).code
    scan(client, code)
    settle(client)
    before = money_snapshot()
    assert "该医保码已使用" in scan(client, code).get_data(as_text=True)
    assert money_snapshot() == before


def test_ended_binding_and_not_insured_are_refused(app, client, factory, counter):
    """该亲属绑定已解除，医保码无效 / 该参保人当前未处于参保状态."""
    mother, child, binding = family(factory)
    code = issue(mother, binding.public_id).code
    end(binding)
    assert "该亲属绑定已解除，医保码无效" in scan(client, code).get_data(as_text=True)
    suspended = factory.user(status="suspended")
    assert "该参保人当前未处于参保状态" in scan(client, issue(suspended).code).get_data(
        as_text=True)
    assert db.session.scalar(select(func.count(Settlement.id))) == 0


def test_binding_ended_while_the_card_is_open(app, client, factory, counter):
    """Settling after the binding ended sends the cashier back to scanning with the reason."""
    mother, child, binding = family(factory)
    scan(client, issue(mother, binding.public_id).code)
    end(binding)
    response = settle(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/pharmacy/")
    assert "该亲属绑定已解除，医保码无效" in client.get("/pharmacy/").get_data(as_text=True)
    assert child.account.balance_fen == 2000


@pytest.mark.parametrize("amount,message", [
    ("0", "金额必须大于0"), ("-1", "请输入正确的金额"), ("1.234", "请输入正确的金额"),
    ("abc", "请输入正确的金额"), ("5000.01", "单笔金额不能超过¥5000.00"), ("", "请输入金额"),
])
def test_bad_amount_is_shown_on_the_field_and_nothing_is_used(app, client, factory, counter,
                                                              amount, message):
    """The card stays with the error; the code is still unused and settles afterwards."""
    user = factory.user(balance_fen=5000)
    scan(client, issue(user).code)
    response = settle(client, amount=amount)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and message in html
    assert db.session.scalar(select(InsuranceCode.used_at)) is None
    assert settle(client, amount="1.00").status_code == 302


def test_items_are_required_and_limited(app, client, factory, counter):
    """Empty items or over 200 characters are refused on the field."""
    user = factory.user(balance_fen=5000)
    scan(client, issue(user).code)
    assert "请填写药品或项目" in settle(client, items="").get_data(as_text=True)
    assert "不能超过200个字" in settle(client, items="药" * 201).get_data(as_text=True)
    assert db.session.scalar(select(func.count(Settlement.id))) == 0


def test_today_lists_this_pharmacys_settlements_of_the_china_day(app, client, factory, counter):
    """Today's rows and totals; yesterday's and another pharmacy's are not shown."""
    pharmacy, staff = counter
    user = factory.user(name="张小明", balance_fen=1000)
    scan(client, issue(user).code)
    settle(client, amount="23.50", items="布洛芬")
    scan(client, issue(user).code)
    settle(client, amount="10.00", items="口罩")
    other = factory.pharmacy(name="别家药房")
    db.session.add(Settlement(pharmacy_id=other.id, person_id=user.person.id, total_fen=999,
                              cash_fen=999, items="别家的"))
    db.session.add(Settlement(pharmacy_id=pharmacy.id, person_id=user.person.id, total_fen=777,
                              cash_fen=777, items="昨天的",
                              created_at=clock.now() - timedelta(days=1, hours=1)))
    db.session.commit()
    html = client.get("/pharmacy/today", follow_redirects=True).get_data(as_text=True)
    assert "布洛芬" in html and "口罩" in html and "¥33.50" in html
    assert "别家的" not in html and "昨天的" not in html
    assert "¥10.00" in html and "¥23.50" in html  # account 10.00, cash 23.50 in total


def test_receipt_of_another_pharmacy_is_404(app, client, factory, counter):
    """Receipts are per pharmacy."""
    user = factory.user()
    other = factory.pharmacy(name="别家药房")
    row = Settlement(pharmacy_id=other.id, person_id=user.person.id, total_fen=100,
                     cash_fen=100, items="x")
    db.session.add(row)
    db.session.commit()
    assert client.get(f"/pharmacy/receipts/{row.public_id}").status_code == 404


def test_staff_without_a_pharmacy_gets_403(app, client, factory):
    """A pharmacy-role login that lost its pharmacy cannot settle."""
    staff = factory.staff()
    staff.pharmacy_id = None
    db.session.commit()
    login(client, staff)
    assert client.get("/pharmacy/").status_code == 403


def test_verification_is_rate_limited(app, client, factory, counter):
    """RATELIMIT_CODE_VERIFY caps scans per staff login."""
    app.config["RATELIMIT_CODE_VERIFY"] = "3 per minute"
    app.config["RATELIMIT_ENABLED"] = True
    statuses = [client.post("/pharmacy/", data={"code": "NOPE"}).status_code for _ in range(5)]
    assert statuses[:3] == [303, 303, 303] and statuses[-1] == 429
