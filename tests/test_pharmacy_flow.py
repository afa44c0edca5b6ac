"""Pharmacy pages after the card: 预结算 → 确认结算 (double-submit safe), 撤销 from the receipt,
对账 (date picker, totals per fund, cancelled apart, CSV), and what the holder's pages show."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import test_pharmacy_pages as pages
from tests.helpers import refused_page
from tests.test_codes import issue, login
from tests.test_pharmacy_pages import confirm, pending_msgid, presettle, scan, settle
from tests.test_settlement import assert_ledger_matches_balances, money_snapshot
from webapp import clock
from webapp.audit.services import Actor
from webapp.codes import reconciliation
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.models import InsuranceCode, LedgerEntry, Settlement

counter = pages.counter  # the logged-in 仁心大药房 cashier fixture


def receipt_of(response) -> str:
    """The receipt path a settle / cancel redirected to."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert "/pharmacy/receipts/" in location, location
    return location


def settled(client, factory, balance_fen: int = 2000, amount: str = "23.50", **user):
    """A patient with a balance, scanned and settled at the counter; (user, receipt path)."""
    patient = factory.user(name="张小明", balance_fen=balance_fen, **user)
    scan(client, issue(patient).code)
    return patient, receipt_of(settle(client, amount=amount))


def cancel_page(client, path: str) -> str:
    """The msgid the cancel page carries."""
    html = client.get(path + "/cancel").get_data(as_text=True)
    marker = 'name="msgid" type="hidden" value="'
    assert marker in html, html
    return html.split(marker, 1)[1].split('"', 1)[0]


def cancel(client, path: str, reason: str = "顾客退货", msgid: str | None = None):
    """Post the cancel form of a receipt."""
    return client.post(path + "/cancel",
                       data={"reason": reason, "msgid": msgid or cancel_page(client, path)})


# ---- 预结算 → 确认结算 ------------------------------------------------------------------------

def test_presettle_shows_the_split_and_moves_no_money(app, client, factory, counter):
    """¥23.50 against ¥20.00: the confirm page shows 20.00 / 0.00 / 3.50; nothing is used or paid."""
    patient = factory.user(name="张小明", balance_fen=2000)
    scan(client, issue(patient).code)
    before = money_snapshot()
    response = presettle(client)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/pharmacy/confirm")
    html = client.get("/pharmacy/confirm").get_data(as_text=True)
    for text in ("预结算", "张*明", "本人出示", "布洛芬缓释胶囊", "费用总额", "¥23.50",
                 "个人账户支付", "¥20.00", "家庭共济支付", "¥0.00", "个人现金支付", "¥3.50",
                 "尚未扣款", "患者已确认以上支付明细", "确认结算"):
        assert text in html, text
    assert money_snapshot() == before
    assert db.session.scalar(select(InsuranceCode.used_at)) is None
    # 返回修改 keeps what was typed.
    card = client.get("/pharmacy/patient").get_data(as_text=True)
    assert 'value="23.50"' in card and "布洛芬缓释胶囊" in card


def test_confirm_needs_the_patients_confirmation(app, client, factory, counter):
    """Without the tick the page says so and nothing moves."""
    patient = factory.user(balance_fen=2000)
    scan(client, issue(patient).code)
    presettle(client)
    before = money_snapshot()
    response = refused_page(client, client.post("/pharmacy/confirm",
                                                data={"msgid": pending_msgid(client)}))
    assert response.status_code == 200
    assert "请先请患者确认支付明细" in response.get_data(as_text=True)
    assert money_snapshot() == before


def test_confirm_settles_and_a_resubmitted_confirm_answers_the_same_receipt(app, client,
                                                                            factory, counter):
    """The second post of the same form (double click, back + resubmit) moves nothing."""
    patient = factory.user(balance_fen=2000)
    scan(client, issue(patient).code)
    presettle(client)
    msgid = pending_msgid(client)
    first = receipt_of(confirm(client, msgid))
    assert patient.person.account.balance_fen == 0
    after = money_snapshot()
    again = confirm(client, msgid)
    assert receipt_of(again) == first
    assert money_snapshot() == after
    assert db.session.scalar(select(func.count(Settlement.id))) == 1
    assert "该笔已结算，以下为原结算单" in client.get(first).get_data(as_text=True)
    assert db.session.scalar(select(Settlement.msgid)) == msgid


def test_confirm_of_a_stale_page_is_refused(app, client, factory, counter):
    """A msgid that is not the pending one (an old tab) sends the cashier back to scanning."""
    patient = factory.user(balance_fen=2000)
    scan(client, issue(patient).code)
    presettle(client)
    before = money_snapshot()
    response = confirm(client, msgid="0" * 30)
    assert response.status_code == 302 and response.headers["Location"].endswith("/pharmacy/")
    assert money_snapshot() == before


def test_confirm_without_a_presettlement_goes_back_to_scanning(app, client, counter):
    """No pending settlement: 请先扫码."""
    response = client.get("/pharmacy/confirm")
    assert response.status_code == 302 and response.headers["Location"].endswith("/pharmacy/")


def test_presettle_shows_the_aid_part_and_its_owner(app, client, factory, counter):
    """A 家庭共济 member: own ¥5.00, the owner's account ¥18.50, no cash."""
    from tests.test_aid_payments import family

    owner, son, _ = family(factory, owner_balance=10000)
    scan(client, issue(son).code)
    card = client.get("/pharmacy/patient").get_data(as_text=True)
    assert "先扣个人账户，再由家庭共济支付，不足部分由顾客现金支付" in card
    presettle(client)
    html = client.get("/pharmacy/confirm").get_data(as_text=True)
    assert "¥5.00" in html and "¥18.50" in html
    assert "家庭共济支付（王*国的个人账户）" in html


# ---- 撤销 from the receipt --------------------------------------------------------------------

def test_receipt_offers_cancel_with_a_confirmation_and_a_reason(app, client, factory, counter):
    """撤销结算 → a page with what goes back where, a reason field and 确认撤销."""
    _, path = settled(client, factory)
    html = client.get(path).get_data(as_text=True)
    assert "已结算" in html and "撤销结算" in html and path + "/cancel" in html
    page = client.get(path + "/cancel").get_data(as_text=True)
    for text in ("确认撤销这笔结算？", "退回个人账户", "¥20.00", "当面退还现金", "¥3.50",
                 "撤销原因", "确认撤销", "不撤销"):
        assert text in page, text


def test_cancel_needs_a_reason(app, client, factory, counter):
    """An empty reason stays on the page with the message; nothing moves."""
    _, path = settled(client, factory)
    before = money_snapshot()
    response = refused_page(client, cancel(client, path, reason=""))
    assert response.status_code == 200 and "请填写撤销原因" in response.get_data(as_text=True)
    assert money_snapshot()[0] == before[0]


def test_cancel_from_the_receipt_refunds_and_shows_cancelled(app, client, factory, counter):
    """Money back, the receipt says 已撤销 with time and reason and offers 重新结算 only."""
    patient, path = settled(client, factory)
    with clock.frozen_at(clock.now()):
        when = clock.china_time(clock.now(), "%Y-%m-%d %H:%M")
        assert receipt_of(cancel(client, path, reason="顾客退货")) == path
    db.session.refresh(patient.person.account)
    assert patient.person.account.balance_fen == 2000
    assert_ledger_matches_balances()
    html = client.get(path).get_data(as_text=True)
    assert "已撤销结算，请当面退还顾客现金 ¥3.50" in html
    assert "已撤销" in html and "顾客退货" in html and when in html
    assert "重新结算" in html and path + "/cancel" not in html
    assert db.session.scalar(select(Settlement.status)) == SettlementStatus.CANCELLED
    # The cancel page of a cancelled receipt leads back to it.
    again = client.get(path + "/cancel")
    assert again.status_code == 302 and again.headers["Location"].endswith(path)


def test_resubmitted_cancel_refunds_once(app, client, factory, counter):
    """The same cancel form posted twice: one set of refund rows."""
    patient, path = settled(client, factory)
    msgid = cancel_page(client, path)
    cancel(client, path, msgid=msgid)
    after = money_snapshot()
    assert receipt_of(cancel(client, path, msgid=msgid)) == path
    assert money_snapshot() == after
    refunds = db.session.scalar(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.kind == "refund"))
    assert refunds == 1


def test_no_cancel_after_the_day_is_reconciled(app, client, factory, counter):
    """A matched 3201 closes the day: no button, and a posted cancel is refused with the reason."""
    pharmacy, _ = counter
    patient, path = settled(client, factory)
    msgid = cancel_page(client, path)
    totals = reconciliation.day_totals(pharmacy.id, clock.today())
    assert reconciliation.compare_totals(pharmacy.id, clock.today(), totals.as_dict(),
                                         Actor(label="test")).matched
    html = client.get(path).get_data(as_text=True)
    assert path + "/cancel" not in html
    before = money_snapshot()
    response = cancel(client, path, msgid=msgid)
    assert receipt_of(response) == path
    assert money_snapshot() == before
    assert "已对账" in client.get(path).get_data(as_text=True)


def test_no_cancel_on_a_later_day(app, client, factory, counter):
    """The window is the settlement's China day: the next day there is no 撤销."""
    _, path = settled(client, factory)
    clock.shift(timedelta(days=1))
    assert path + "/cancel" not in client.get(path).get_data(as_text=True)
    assert client.get(path + "/cancel").status_code == 302


def test_another_pharmacys_receipt_and_cancel_are_404(app, client, factory, counter):
    """Receipts are per pharmacy; so is 撤销."""
    _, path = settled(client, factory)
    msgid = cancel_page(client, path)
    other = factory.staff(pharmacy_obj=factory.pharmacy(name="别家药房"))
    login(client, other)
    before = money_snapshot()
    assert client.get(path).status_code == 404
    assert client.get(path + "/cancel").status_code == 404
    assert client.post(path + "/cancel", data={"reason": "x", "msgid": msgid}).status_code == 404
    assert money_snapshot() == before


# ---- 对账 --------------------------------------------------------------------------------------

def test_reconciliation_page_totals_per_fund_with_cancelled_apart(app, client, factory, counter):
    """Two settled, one cancelled: totals of the settled ones; the cancel shown apart."""
    _, first = settled(client, factory, amount="23.50")
    _, second = settled(client, factory, balance_fen=0, amount="10.00")
    _, third = settled(client, factory, balance_fen=500, amount="8.00")
    cancel(client, third, reason="录入金额有误")
    html = client.get("/pharmacy/reconciliation").get_data(as_text=True)
    assert 'type="date"' in html and "导出 CSV" in html
    assert "¥33.50" in html  # 23.50 + 10.00
    assert "已撤销 <strong>1</strong> 笔，共 <strong>¥8.00</strong>" in html
    assert "录入金额有误" in html and "未对账" in html and "该日结算已不能撤销" not in html
    assert html.count("/pharmacy/receipts/") == 3


def test_reconciliation_page_picks_a_day_and_refuses_the_future(app, client, factory, counter):
    """?date= shows that China day; a future date falls back to today with a message."""
    pharmacy, _ = counter
    person = factory.person()
    yesterday = clock.today() - timedelta(days=1)
    db.session.add(Settlement(pharmacy_id=pharmacy.id, person_id=person.id, total_fen=777,
                              cash_fen=777, items="昨天的",
                              created_at=clock.china_midnight_utc(yesterday) + timedelta(hours=9)))
    db.session.commit()
    assert "昨天的" not in client.get("/pharmacy/reconciliation").get_data(as_text=True)
    html = client.get(f"/pharmacy/reconciliation?date={yesterday.isoformat()}").get_data(
        as_text=True)
    assert "昨天的" in html and "¥7.77" in html
    future = (clock.today() + timedelta(days=2)).isoformat()
    response = client.get(f"/pharmacy/reconciliation?date={future}")
    assert response.status_code == 200 and "不能对尚未到来的日期对账" in response.get_data(
        as_text=True)
    assert client.get("/pharmacy/reconciliation?date=garbage").status_code == 200
    ancient = client.get("/pharmacy/reconciliation?date=0001-01-01")
    assert ancient.status_code == 200 and "对账日期不能早于2000-01-01" in ancient.get_data(
        as_text=True)
    assert client.get("/pharmacy/reconciliation.csv?date=0001-01-01").status_code == 200


def test_reconciliation_page_shows_a_recorded_match(app, client, factory, counter):
    """After the POS's 3201 matched, the page says 对账一致."""
    pharmacy, _ = counter
    settled(client, factory)
    totals = reconciliation.day_totals(pharmacy.id, clock.today())
    reconciliation.compare_totals(pharmacy.id, clock.today(), totals.as_dict())
    html = client.get("/pharmacy/reconciliation").get_data(as_text=True)
    assert "对账一致" in html and "该日结算已不能撤销" in html


def test_reconciliation_csv(app, client, factory, counter):
    """Rows (with state, cancel time and reason) and both totals; only this pharmacy's."""
    pharmacy, _ = counter
    _, first = settled(client, factory, amount="23.50")
    _, second = settled(client, factory, balance_fen=0, amount="10.00")
    cancel(client, second, reason="=顾客退货")
    other = factory.pharmacy(name="别家药房")
    db.session.add(Settlement(pharmacy_id=other.id, person_id=factory.person().id,
                              total_fen=999, cash_fen=999, items="别家的"))
    db.session.commit()
    day = clock.today().isoformat()
    response = client.get(f"/pharmacy/reconciliation.csv?date={day}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"reconciliation-{pharmacy.code}-{day}.csv" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff") and "别家的" not in text
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:2] == ["定点机构编码", pharmacy.code]
    assert rows[1][0] == "结算流水号" and rows[1][8] == "状态"
    body = {r[0]: r for r in rows[2:4]}
    assert body[first.rsplit("/", 1)[1]][4:9] == ["23.50", "20.00", "0.00", "3.50", "已结算"]
    cancelled = body[second.rsplit("/", 1)[1]]
    assert cancelled[8] == "已撤销" and cancelled[10] == "'=顾客退货" and cancelled[9]
    assert rows[-2][:5] == ["已结算合计", "1笔", "", "", "23.50"]
    assert rows[-1][:5] == ["已撤销合计", "1笔", "", "", "10.00"]


def test_today_is_the_reconciliation_page_of_today(app, client, counter):
    """The old 今日结算 address shows today's 对账; links name the new address."""
    html = client.get("/pharmacy/today").get_data(as_text=True)
    assert f'value="{clock.today().isoformat()}"' in html and "导出 CSV" in html
    assert 'href="/pharmacy/reconciliation"' in html


@pytest.mark.parametrize("path", ["/pharmacy/confirm", "/pharmacy/reconciliation",
                                  "/pharmacy/reconciliation.csv", "/pharmacy/receipts/x/cancel"])
def test_new_pages_are_staff_only(app, client, factory, path):
    """参保人 accounts get 403."""
    login(client, factory.user())
    assert client.get(path).status_code == 403


# ---- what the holder sees -----------------------------------------------------------------------

def test_records_show_the_cancellation_and_leave_it_out_of_the_month(app, client, factory,
                                                                     counter):
    """消费记录: the row says 已撤销 with time and reason; the month total does not count it."""
    patient, path = settled(client, factory)
    cancel(client, path, reason="顾客退货")
    cancelled_at = db.session.scalar(select(Settlement.cancelled_at))
    login(client, patient)
    html = client.get("/records/").get_data(as_text=True)
    assert "已撤销" in html and "顾客退货" in html
    assert clock.china_time(cancelled_at) in html
    assert "医保消费（0 笔）" in html


def test_aid_spending_shows_the_cancellation(app, client, factory, counter):
    """The 共济 owner's 消费明细 marks the refunded payment 已撤销 with the reason."""
    from tests.test_aid_payments import family

    owner, son, _ = family(factory, owner_balance=10000)
    scan(client, issue(son).code)
    path = receipt_of(settle(client, amount="23.50"))
    cancel(client, path, reason="顾客退货")
    db.session.refresh(owner.person.account)
    assert owner.person.account.balance_fen == 10000
    login(client, owner)
    html = client.get("/aid/spending").get_data(as_text=True)
    assert "已撤销" in html and "顾客退货" in html


def test_cancel_window_edge_at_china_midnight(app, client, factory, counter):
    """Settled at 23:59:59 China time: cancellable then, not at 00:00:00."""
    pharmacy, _ = counter
    late = clock.china_midnight_utc(clock.today()) - timedelta(seconds=1)
    with clock.frozen_at(late):
        _, path = settled(client, factory)
        assert path + "/cancel" in client.get(path).get_data(as_text=True)
    with clock.frozen_at(late + timedelta(seconds=1)):
        assert path + "/cancel" not in client.get(path).get_data(as_text=True)
        assert "已结算" in client.get(path).get_data(as_text=True)


@pytest.mark.postgres
def test_ten_concurrent_confirms_of_one_form_settle_once(pg_app):
    """The same confirm form posted by 10 requests at once (PostgreSQL): one settlement, one
    set of ledger rows, and every request is sent to that receipt."""
    from tests import factories, helpers

    shop = factories.pharmacy(name="仁心大药房")
    staff = factories.staff(pharmacy_obj=shop)
    patient = factories.user(balance_fen=2000)
    first = pg_app.test_client()
    login(first, staff)
    scan(first, issue(patient).code)
    presettle(first)
    msgid = pending_msgid(first)
    name = pg_app.config.get("SESSION_COOKIE_NAME", "session")
    cookie = first.get_cookie(name)
    assert cookie is not None
    clients = []
    for _ in range(10):
        other = pg_app.test_client()
        other.set_cookie(name, cookie.value)
        clients.append(other)
    db.session.remove()

    def work(i: int) -> str:
        response = clients[i].post("/pharmacy/confirm", data={"msgid": msgid, "confirmed": "y"})
        return response.headers.get("Location", str(response.status_code))

    locations = helpers.run_concurrently(pg_app, 10, work)
    assert len(set(locations)) == 1 and "/pharmacy/receipts/" in locations[0], locations
    assert db.session.scalar(select(func.count(Settlement.id))) == 1
    assert db.session.scalar(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.kind == "payment")) == 1
    assert_ledger_matches_balances()
