"""The pharmacy contract at the service level (issue 10): pre-settle, idempotent settle by msgid,
cancel within the window, reversal, message-id retention and the ledger check."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from tests.test_aid_payments import family as aid_family
from tests.test_codes import bind, family, issue
from tests.test_settlement import assert_ledger_matches_balances, money_snapshot, refused
from webapp import clock
from webapp.audit.services import Actor
from webapp.codes import cancel as cancelling
from webapp.codes import msgids, reconciliation, settlement
from webapp.codes.models import MessageRecord
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.ledger.check import check
from webapp.models import AuditLog, InsuranceCode, LedgerEntry, Message, Settlement

# 2026-05-01 23:59:59 and 2026-05-02 00:00:00 China time (UTC+8), as naive UTC.
LAST_SECOND = datetime(2026, 5, 1, 15, 59, 59)
NEXT_DAY = datetime(2026, 5, 1, 16, 0, 0)


@pytest.fixture
def shop(factory):
    """仁心大药房 with a 12-character national code, and one of its staff."""
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    pharmacy.code = f"P3601{pharmacy.id:07d}"
    db.session.commit()
    return pharmacy, factory.staff(pharmacy_obj=pharmacy)


def token_of(user, shop, key: str = "me") -> str:
    pharmacy, staff = shop
    return settlement.verify(issue(user, key).code, pharmacy, Actor(user=staff)).token


def pay(user, shop, amount_fen: int = 2350, msgid: str | None = None, key: str = "me"):
    pharmacy, staff = shop
    return settlement.settle(token_of(user, shop, key), pharmacy, Actor(user=staff), amount_fen,
                             "布洛芬缓释胶囊", msgid=msgid)


def undo(row, shop, reason: str = "顾客退货", msgid: str | None = None):
    pharmacy, staff = shop
    return cancelling.cancel(row, pharmacy, Actor(user=staff), reason, msgid=msgid)


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id))) or 0


def rows(action: str) -> int:
    return db.session.scalar(select(func.count(AuditLog.id)).filter_by(action=action)) or 0


# ---- msgid ------------------------------------------------------------------------------------

def test_msgid_format_and_prefix(app, shop, factory):
    pharmacy = shop[0]
    fresh = msgids.new_msgid(pharmacy)
    assert len(fresh) == 30 and fresh.startswith(pharmacy.code)
    assert msgids.check_msgid(fresh, pharmacy) == fresh
    short = factory.pharmacy()
    assert msgids.prefix_of(short) == short.code.rjust(12, "0")
    for bad in ("", "x" * 30, fresh[:-1], fresh + "1", msgids.new_msgid(short),
                pharmacy.code + "20261301000000" + "0001", None, 12):
        assert refused(msgids.check_msgid, bad, pharmacy).code == "invalid_msgid"


def test_same_msgid_same_purchase_is_the_original_settlement(app, factory, shop):
    user = factory.user(balance_fen=10000)
    msgid = msgids.new_msgid(shop[0])
    token = token_of(user, shop)
    first = settlement.settle(token, shop[0], Actor(user=shop[1]), 2350, "药", msgid=msgid)
    before = money_snapshot()
    again = settlement.settle(token, shop[0], Actor(user=shop[1]), 2350, "药", msgid=msgid)
    assert again.id == first.id and again.replayed and not Settlement.replayed
    assert money_snapshot() == before and first.msgid == msgid


def test_same_msgid_other_purchase_is_msgid_conflict(app, factory, shop):
    user = factory.user(balance_fen=10000)
    msgid = msgids.new_msgid(shop[0])
    token = token_of(user, shop)
    settlement.settle(token, shop[0], Actor(user=shop[1]), 2350, "药", msgid=msgid)
    before = money_snapshot()
    err = refused(settlement.settle, token_of(user, shop), shop[0], Actor(user=shop[1]), 100,
                  "药", msgid=msgid)
    assert (err.code, err.status) == ("msgid_conflict", 409)
    assert money_snapshot() == before


def test_another_pharmacys_msgid_is_refused(app, factory, shop):
    other = factory.pharmacy()
    user = factory.user(balance_fen=10000)
    err = refused(settlement.settle, token_of(user, shop), shop[0], Actor(user=shop[1]), 100,
                  "药", msgid=msgids.new_msgid(other))
    assert (err.code, err.status) == ("invalid_msgid", 400)
    assert count(Settlement) == 0


def test_message_ids_are_kept_for_the_policy_days_then_purged(app, factory, shop):
    user = factory.user(balance_fen=10000)
    pay(user, shop, msgid=msgids.new_msgid(shop[0]))
    assert msgids.keep_days(shop[0].region_code) == 7
    assert msgids.purge(clock.now() + timedelta(days=6, hours=23)) == 0
    assert count(MessageRecord) == 1
    assert msgids.purge(clock.now() + timedelta(days=7, minutes=1)) == 1
    assert count(MessageRecord) == 0


def test_msgids_purge_cli(app, runner, factory, shop):
    pay(factory.user(balance_fen=10000), shop, msgid=msgids.new_msgid(shop[0]))
    clock.shift(timedelta(days=8))
    result = runner.invoke(args=["msgids", "purge"])
    assert result.exit_code == 0 and "1 条" in result.output


# ---- pre-settlement ---------------------------------------------------------------------------

def test_presettle_shows_the_split_and_moves_nothing(app, factory):
    owner, son, _ = aid_family(factory, owner_balance=1000)
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    staff = factory.staff(pharmacy_obj=pharmacy)
    checked = settlement.verify(issue(son).code, pharmacy, Actor(user=staff))
    before = money_snapshot()
    split = settlement.presettle(checked.token, pharmacy, 2350, "药")
    assert (split.account_fen, split.aid_fen, split.cash_fen) == (500, 1000, 850)
    assert split.aid_owner.id == owner.person.id
    assert split.text == "个人账户¥5.00，共济¥10.00，现金¥8.50"
    assert money_snapshot() == before
    assert db.session.get(InsuranceCode, checked.code.id).used_at is None
    done = settlement.settle(checked.token, pharmacy, Actor(user=staff), 2350, "药")
    assert (done.account_fen, done.aid_fen, done.cash_fen) == (500, 1000, 850)


def test_presettle_refusals(app, factory, shop):
    user = factory.user(balance_fen=100)
    token = token_of(user, shop)
    assert refused(settlement.presettle, "nope", shop[0], 100, "药").code == "token_invalid"
    assert refused(settlement.presettle, token, shop[0], 0, "药").code == "invalid_amount"
    assert refused(settlement.presettle, token, shop[0], 100, " ").code == "invalid_items"
    assert refused(settlement.presettle, token, shop[0], 100, "药", "99999").code == \
        "invalid_business_type"
    settlement.settle(token, shop[0], Actor(user=shop[1]), 100, "药")
    assert refused(settlement.presettle, token, shop[0], 100, "药").code == "used"
    stale = token_of(user, shop)
    clock.shift(timedelta(seconds=301))
    assert refused(settlement.presettle, stale, shop[0], 100, "药").code == "token_expired"


# ---- cancel -----------------------------------------------------------------------------------

def test_cancel_gives_money_back_the_way_it_came(app, factory):
    owner, son, _ = aid_family(factory, owner_balance=1000)
    pharmacy = factory.pharmacy(name="仁心大药房", region="360000")
    shop = (pharmacy, factory.staff(pharmacy_obj=pharmacy))
    row = pay(son, shop, 2350)
    db.session.execute(delete(Message))
    db.session.commit()
    done = undo(row, shop, "顾客退货")
    assert done.status == SettlementStatus.CANCELLED and done.cancel_reason == "顾客退货"
    assert done.cancelled_at is not None
    assert done.cash_refunded_fen == 850
    db.session.expire_all()
    assert (son.person.account.balance_fen, owner.person.account.balance_fen) == (500, 1000)
    refunds = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.kind.in_(["refund", "aid_refund"])).order_by(LedgerEntry.id)).all()
    payments = {p.id: p for p in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.kind.in_(["payment", "aid_payment"])))}
    assert {r.kind for r in refunds} == {"refund", "aid_refund"}
    for refund in refunds:
        original = payments[refund.reverses_entry_id]
        assert (refund.account_id, refund.amount_fen, refund.settlement_id) == \
            (original.account_id, -original.amount_fen, row.id)
    assert db.session.get(InsuranceCode, db.session.scalar(
        select(InsuranceCode.id).where(InsuranceCode.settlement_id == row.id))).used_at
    titles = {(m.recipient_person_id, m.title) for m in db.session.scalars(select(Message))}
    assert (son.person.id, "医保支付撤销通知") in titles
    assert (owner.person.id, "家庭共济支付撤销通知") in titles
    assert rows("settlement.cancel") == 1
    assert check() == []
    assert_ledger_matches_balances()


def test_cancel_tells_the_relative_who_showed_the_code(app, factory, shop):
    mother, child, binding = family(factory)
    row = pay(mother, shop, 1000, key=binding.public_id)
    undo(row, shop)
    bodies = [m.body for m in db.session.scalars(select(Message).where(
        Message.recipient_person_id == mother.person.id, Message.title == "家人医保支付撤销通知"))]
    assert bodies == ["张*明在仁心大药房的¥10.00医保支付已撤销"]


def test_cancel_twice_answers_the_first_and_moves_nothing(app, factory, shop):
    user = factory.user(balance_fen=10000)
    row = pay(user, shop)
    first = undo(row, shop, "顾客退货", msgid=msgids.new_msgid(shop[0]))
    before = money_snapshot()
    again = undo(row.public_id, shop, "别的原因")
    assert again.id == first.id and again.replayed and again.cancel_reason == "顾客退货"
    assert money_snapshot() == before and rows("settlement.cancel") == 1


def test_cancel_by_another_pharmacy_is_not_found(app, factory, shop):
    row = pay(factory.user(balance_fen=10000), shop)
    other = factory.pharmacy()
    err = refused(cancelling.cancel, row.public_id, other, Actor(label="x"), "退货")
    assert (err.code, err.status) == ("not_found", 404)
    assert refused(cancelling.cancel, "nope", shop[0], Actor(label="x"), "退货").code == \
        "not_found"
    assert db.session.get(Settlement, row.id).status == SettlementStatus.SETTLED


@pytest.mark.parametrize("reason", ["", "   ", "原" * 101, "a\x00b"])
def test_cancel_needs_a_reason(app, factory, shop, reason):
    row = pay(factory.user(balance_fen=10000), shop)
    err = refused(cancelling.cancel, row, shop[0], Actor(label="x"), reason)
    assert (err.code, err.field) == ("invalid_reason", "reason")


def test_cancel_at_the_last_second_of_the_day_works(app, factory, shop):
    user = factory.user(balance_fen=10000)
    clock.freeze(LAST_SECOND - timedelta(minutes=1))
    row = pay(user, shop)
    clock.freeze(LAST_SECOND)
    assert cancelling.can_cancel(row, shop[0])
    assert undo(row, shop).status == SettlementStatus.CANCELLED


def test_cancel_at_midnight_is_too_late(app, factory, shop):
    user = factory.user(balance_fen=10000)
    clock.freeze(LAST_SECOND - timedelta(minutes=1))
    row = pay(user, shop)
    clock.freeze(NEXT_DAY)
    assert not cancelling.can_cancel(row, shop[0])
    before = money_snapshot()
    err = refused(cancelling.cancel, row, shop[0], Actor(label="x"), "退货")
    assert (err.code, err.status) == ("cancel_window_closed", 409)
    assert money_snapshot() == before


def test_cancel_days_policy_widens_the_window(app, factory, shop, monkeypatch):
    user = factory.user(balance_fen=10000)
    clock.freeze(LAST_SECOND)
    row = pay(user, shop)
    monkeypatch.setattr(cancelling, "cancel_days", lambda pharmacy: 1)
    clock.freeze(NEXT_DAY + timedelta(hours=23))
    assert undo(row, shop).status == SettlementStatus.CANCELLED


def test_cancel_after_the_day_is_reconciled_is_refused(app, factory, shop):
    user = factory.user(balance_fen=10000)
    row = pay(user, shop)
    day = cancelling.settlement_day(row)
    totals = reconciliation.day_totals(shop[0].id, day).as_dict()
    assert reconciliation.compare_totals(shop[0].id, day, totals).matched
    err = refused(cancelling.cancel, row, shop[0], Actor(label="x"), "退货")
    assert (err.code, err.status) == ("day_reconciled", 409)
    assert not cancelling.can_cancel(db.session.get(Settlement, row.id), shop[0])


# ---- reversal ---------------------------------------------------------------------------------

def test_reversal_of_a_settlement_cancels_it(app, factory, shop):
    user = factory.user(balance_fen=10000)
    msgid = msgids.new_msgid(shop[0])
    row = pay(user, shop, msgid=msgid)
    done = cancelling.reverse(msgids.new_msgid(shop[0])[:-4] + "9999", msgid, shop[0],
                              Actor(label="pos"))
    assert done.settlement.id == row.id and done.settlement.status == SettlementStatus.CANCELLED
    assert done.settlement.cancel_reason == cancelling.REVERSAL_REASON
    assert db.session.get(Settlement, row.id).cash_refunded_fen == row.cash_fen
    assert rows("settlement.reversal") == 1 and check() == []


def test_reversal_is_idempotent(app, factory, shop):
    user = factory.user(balance_fen=10000)
    msgid = msgids.new_msgid(shop[0])
    pay(user, shop, msgid=msgid)
    reversal = msgid[:-4] + "9999"
    cancelling.reverse(reversal, msgid, shop[0], Actor(label="pos"))
    before = money_snapshot()
    again = cancelling.reverse(reversal, msgid, shop[0], Actor(label="pos"))
    assert again.replayed and money_snapshot() == before
    assert rows("settlement.reversal") == 1
    other = msgid[:-4] + "0000"
    err = refused(cancelling.reverse, reversal, other, shop[0], Actor(label="pos"))
    assert err.code == "msgid_conflict"


def test_reversal_of_a_message_that_never_arrived_refuses_its_late_arrival(app, factory, shop):
    user = factory.user(balance_fen=10000)
    lost = msgids.new_msgid(shop[0])
    done = cancelling.reverse(lost[:-4] + "9999", lost, shop[0], Actor(label="pos"))
    assert done.settlement is None
    before = money_snapshot()
    err = refused(settlement.settle, token_of(user, shop), shop[0], Actor(label="pos"), 100,
                  "药", msgid=lost)
    assert (err.code, err.status) == ("reversed", 409)
    assert money_snapshot() == before


def test_reversal_of_a_reversal_or_a_cancel_is_refused(app, factory, shop):
    user = factory.user(balance_fen=10000)
    msgid = msgids.new_msgid(shop[0])
    row = pay(user, shop, msgid=msgid)
    reversal = msgid[:-4] + "9999"
    cancelling.reverse(reversal, msgid, shop[0], Actor(label="pos"))
    err = refused(cancelling.reverse, msgid[:-4] + "8888", reversal, shop[0], Actor(label="pos"))
    assert (err.code, err.status) == ("not_reversible", 409)
    cancel_msgid = msgid[:-4] + "7777"
    second = pay(user, shop)
    undo(second, shop, msgid=cancel_msgid)
    err = refused(cancelling.reverse, msgid[:-4] + "6666", cancel_msgid, shop[0],
                  Actor(label="pos"))
    assert err.code == "not_reversible"
    assert refused(cancelling.reverse, msgid, msgid, shop[0], Actor(label="pos")).code == \
        "not_reversible"
    assert db.session.get(Settlement, row.id).status == SettlementStatus.CANCELLED


def test_reversal_after_a_cancel_moves_nothing_more(app, factory, shop):
    user = factory.user(balance_fen=10000)
    msgid = msgids.new_msgid(shop[0])
    row = pay(user, shop, msgid=msgid)
    undo(row, shop)
    before = money_snapshot()
    done = cancelling.reverse(msgid[:-4] + "9999", msgid, shop[0], Actor(label="pos"))
    assert done.settlement.status == SettlementStatus.CANCELLED
    assert money_snapshot() == before and check() == []


# ---- ledger check -----------------------------------------------------------------------------

def test_ledger_check_passes_then_names_each_broken_row(app, runner, factory, shop):
    user = factory.user(balance_fen=10000)
    row = pay(user, shop, 2350)
    cancelled = pay(user, shop, 100)
    undo(cancelled, shop)
    assert check() == []
    ok = runner.invoke(args=["ledger", "check"])
    assert ok.exit_code == 0 and "台账核对通过" in ok.output

    user.person.account.balance_fen += 1
    db.session.commit()
    problems = check()
    assert [p.kind for p in problems] == ["account", "account"]
    bad = runner.invoke(args=["ledger", "check"])
    assert bad.exit_code == 1 and f"account {user.person.account.id}" in bad.output
    user.person.account.balance_fen -= 1

    db.session.get(Settlement, row.id).account_fen -= 1
    db.session.get(Settlement, row.id).cash_fen += 1
    db.session.commit()
    assert {(p.kind, p.ref) for p in check()} == {("settlement", row.public_id)}
    db.session.get(Settlement, row.id).account_fen += 1
    db.session.get(Settlement, row.id).cash_fen -= 1

    refund = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "refund")).one()
    refund.reverses_entry_id = None
    db.session.commit()
    assert {(p.kind, p.ref) for p in check()} == {("cancel", cancelled.public_id)}


def test_ledger_check_sees_a_settled_row_with_a_cash_refund(app, factory, shop):
    row = pay(factory.user(balance_fen=0), shop, 500)
    db.session.get(Settlement, row.id).cash_refunded_fen = 500
    db.session.commit()
    assert [str(p) for p in check()] == [
        f"cancel {row.public_id}: refund rows or cash refund on a settlement that is not cancelled"]


def test_holders_binding_does_not_change_the_cancel(app, factory, shop):
    """A binding ended after the payment does not stop the refund (money goes back)."""
    mother, child, binding = family(factory)
    row = pay(mother, shop, 1500, key=binding.public_id)
    bind(factory.person(name="赵强", age=40), child, "child")
    undo(row, shop)
    db.session.expire_all()
    assert child.account.balance_fen == 2000


# ---- the holder's code page hears of a cancellation ---------------------------------------------

def test_code_page_learns_of_a_later_cancellation(app, client, factory, shop):
    """The 医保码 page that announced a payment is told when the pharmacy cancels it; a page of
    another user naming the same settlement learns nothing."""
    from tests.helpers import login

    pharmacy, staff = shop
    user = factory.user()
    issued = issue(user)
    token = settlement.verify(issued.code, pharmacy, Actor(user=staff)).token
    row = settlement.settle(token, pharmacy, Actor(user=staff), 1200, "布洛芬缓释胶囊")
    login(client, user)
    poll = {"c": [issued.code], "w": [row.public_id]}
    before = client.post("/code/me/status", data=poll).get_json()
    assert before["state"] == "paid" and before["cancelled"] == []
    undo(row, shop)
    after = client.post("/code/me/status", data=poll).get_json()
    assert [c["settlement"] for c in after["cancelled"]] == [row.public_id]
    assert "已撤销" in after["cancelled"][0]["message"]
    stranger = factory.user(name="陈某")
    login(client, stranger)
    theirs = client.post("/code/me/status", data={"c": ["X"], "w": [row.public_id]}).get_json()
    assert theirs["cancelled"] == []
