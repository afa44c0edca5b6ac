"""对账 service (3201 / 3202): our day against the POS's, each answer with the exact difference."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from webapp import clock
from webapp.audit.services import Actor
from webapp.codes import reconciliation as rec
from webapp.codes.states import SettlementStatus
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import AuditLog, Reconciliation, Settlement

# 2024-05-20 12:00 China time; the China day 2024-05-20 is [05-19 16:00, 05-20 16:00) UTC.
NOW = datetime(2024, 5, 20, 4, 0)
DAY = date(2024, 5, 20)


def add(pharmacy, person, total: int, account: int = 0, aid: int = 0, at: datetime = NOW,
        status: SettlementStatus = SettlementStatus.SETTLED) -> Settlement:
    """A settlement row of the given split (cash is the rest)."""
    row = Settlement(pharmacy_id=pharmacy.id, person_id=person.id, total_fen=total,
                     account_fen=account, aid_fen=aid, cash_fen=total - account - aid,
                     items="药品", created_at=at, status=status)
    if status == SettlementStatus.CANCELLED:
        row.cancelled_at, row.cancel_reason = at, "顾客退货"
        row.cash_refunded_fen = row.cash_fen
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def day(app, factory):
    """A pharmacy's China day: three settled (one of them 共济), one cancelled, plus noise."""
    shop = factory.pharmacy(name="仁心大药房")
    other = factory.pharmacy(name="别家药房")
    person = factory.person()
    with clock.frozen_at(NOW):
        rows = [
            add(shop, person, 2350, account=2000),
            add(shop, person, 1000, account=600, aid=400),
            # 2024-05-19 16:00 UTC is already 20 May 00:00 in China: counts.
            add(shop, person, 500, at=datetime(2024, 5, 19, 16, 0)),
            add(shop, person, 800, account=800, status=SettlementStatus.CANCELLED),
        ]
        add(shop, person, 999, at=datetime(2024, 5, 19, 15, 59, 59))  # 19 May 23:59:59 China
        add(shop, person, 999, at=datetime(2024, 5, 20, 16, 0))  # 21 May 00:00 China
        add(other, person, 777)
    return shop, rows


POS_OK = {"count": 3, "total_fen": 3850, "account_fen": 2600, "aid_fen": 400, "cash_fen": 850,
          "cancelled_count": 1, "cancelled_fen": 800}


def test_day_totals_count_settled_and_cancelled_apart_on_the_china_day(day):
    """Three settled (¥38.50 = 26.00 + 4.00 + 8.50), one cancelled ¥8.00; edges by China time."""
    shop, _ = day
    totals = rec.day_totals(shop.id, DAY)
    assert totals == rec.DayTotals(DAY, **POS_OK)
    assert rec.day_totals(shop.id, date(2024, 5, 19)).as_dict()["total_fen"] == 999
    assert rec.day_totals(shop.id, date(2024, 5, 18)) == rec.DayTotals(date(2024, 5, 18))


def test_totals_that_match_are_recorded_and_close_the_day(day):
    """match, no differences, a 3201 row with both sides, an audit row; is_reconciled."""
    shop, _ = day
    assert rec.is_reconciled(shop.id, DAY) is False
    with clock.frozen_at(NOW):
        answer = rec.compare_totals(shop.id, DAY, POS_OK, Actor(label="api:收银机1"))
    assert answer.matched and answer.result == rec.ReconciliationResult.MATCH
    assert answer.differences == []
    assert answer.as_dict()["result"] == "match" and answer.as_dict()["day"] == "2024-05-20"
    row = db.session.get(Reconciliation, answer.record.id)
    assert (row.kind, row.result, row.day, row.actor_label) == ("3201", "match", DAY,
                                                               "api:收银机1")
    assert json.loads(row.detail)["theirs"] == POS_OK
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "reconciliation.totals"))
    assert audit.target_id == row.public_id and '"result": "match"' in audit.detail
    assert rec.is_reconciled(shop.id, DAY) is True
    assert rec.is_reconciled(shop.id, date(2024, 5, 19)) is False


def test_pos_that_missed_a_settlement_gets_the_exact_difference(day):
    """The POS lost the ¥10.00 共济 one: count −1, total −1000, account −600, aid −400."""
    shop, _ = day
    theirs = {**POS_OK, "count": 2, "total_fen": 2850, "account_fen": 2000, "aid_fen": 0}
    with clock.frozen_at(NOW):
        answer = rec.compare_totals(shop.id, DAY, theirs)
    assert answer.result == rec.ReconciliationResult.MISMATCH and not answer.matched
    assert [(d.field, d.ours, d.theirs, d.difference) for d in answer.differences] == [
        ("count", 3, 2, -1), ("total_fen", 3850, 2850, -1000),
        ("account_fen", 2600, 2000, -600), ("aid_fen", 400, 0, -400),
    ]
    assert answer.as_dict()["differences"][0] == {"field": "count", "ours": 3, "theirs": 2,
                                                  "difference": -1}
    assert rec.is_reconciled(shop.id, DAY) is False


def test_pos_that_counts_a_cancelled_one_as_paid_gets_the_exact_difference(day):
    """The cancelled ¥8.00 (个人账户) counted as paid: +1/+800/+800 settled, −1/−800 cancelled."""
    shop, _ = day
    theirs = {"count": 4, "total_fen": 4650, "account_fen": 3400, "aid_fen": 400,
              "cash_fen": 850, "cancelled_count": 0, "cancelled_fen": 0}
    with clock.frozen_at(NOW):
        answer = rec.compare_totals(shop.id, DAY, theirs)
    assert {d.field: d.difference for d in answer.differences} == {
        "count": 1, "total_fen": 800, "account_fen": 800, "cancelled_count": -1,
        "cancelled_fen": -800,
    }
    assert [d.label for d in answer.differences] == ["结算笔数", "费用总额", "个人账户",
                                                     "撤销笔数", "撤销金额"]
    assert rec.is_reconciled(shop.id, DAY) is False


def test_cancelled_figures_may_be_left_out_and_then_count_as_zero(app, factory):
    """A day without cancels matches a POS that sends no cancelled_* figures."""
    shop, person = factory.pharmacy(), factory.person()
    with clock.frozen_at(NOW):
        add(shop, person, 100)
        answer = rec.compare_totals(shop.id, DAY, {"count": 1, "total_fen": 100,
                                                   "account_fen": 0, "aid_fen": 0,
                                                   "cash_fen": 100})
    assert answer.matched


def test_a_mismatch_then_a_match_closes_the_day(day):
    """The day is reconciled once any 3201 of it matched."""
    shop, _ = day
    with clock.frozen_at(NOW):
        rec.compare_totals(shop.id, DAY, {**POS_OK, "count": 9})
        assert rec.last_reconciliation(shop.id, DAY).result == "mismatch"
        rec.compare_totals(shop.id, DAY, POS_OK)
    assert rec.is_reconciled(shop.id, DAY)
    assert rec.last_reconciliation(shop.id, DAY).result == rec.ReconciliationResult.MATCH


def test_another_pharmacys_match_does_not_close_this_day(day, factory):
    """is_reconciled is per pharmacy."""
    shop, _ = day
    other = factory.pharmacy()
    with clock.frozen_at(NOW):
        rec.compare_totals(other.id, DAY, {k: 0 for k in rec.FIELDS})
    assert rec.is_reconciled(other.id, DAY) and not rec.is_reconciled(shop.id, DAY)


@pytest.mark.parametrize("theirs,field", [
    ({**POS_OK, "count": -1}, "count"),
    ({**POS_OK, "total_fen": "3850"}, "total_fen"),
    ({**POS_OK, "cash_fen": 8.5}, "cash_fen"),
    ({**POS_OK, "aid_fen": True}, "aid_fen"),
    ({k: v for k, v in POS_OK.items() if k != "account_fen"}, "account_fen"),
])
def test_bad_pos_figures_are_refused_and_nothing_is_recorded(day, theirs, field):
    """invalid_reconciliation on the field; no row."""
    shop, _ = day
    with clock.frozen_at(NOW), pytest.raises(DomainError) as err:
        rec.compare_totals(shop.id, DAY, theirs)
    assert (err.value.code, err.value.field, err.value.status) == ("invalid_reconciliation",
                                                                   field, 400)
    assert db.session.scalar(select(Reconciliation.id)) is None


@pytest.mark.parametrize("when,message", [
    (DAY + timedelta(days=1), "不能对尚未到来的日期对账"),
    (date(1, 1, 1), "对账日期不能早于2000-01-01"),
    (NOW, "请提供正确的对账日期"),
])
def test_days_that_cannot_be_reconciled(day, when, message):
    """Tomorrow (China), before 2000 (no overflow) or not a date is refused; today is allowed."""
    shop, _ = day
    for compare in (rec.compare_totals, rec.compare_details):
        with clock.frozen_at(NOW), pytest.raises(DomainError) as err:
            compare(shop.id, when, POS_OK if compare is rec.compare_totals else [])
        assert (err.value.code, err.value.field, err.value.message) == (
            "invalid_reconciliation", "date", message)


# ---- 3202 对明细账 ------------------------------------------------------------------------------

def their_rows(rows):
    """The POS's list built from our rows."""
    return [(s.public_id, s.total_fen, str(s.status.value)) for s in rows]


def test_details_that_match(day):
    """Same ids, amounts and states → match, nothing listed."""
    shop, rows = day
    with clock.frozen_at(NOW):
        answer = rec.compare_details(shop.id, DAY, their_rows(rows))
    assert answer.matched and answer.result == "match"
    assert answer.as_dict() == {"result": "match", "day": "2024-05-20", "missing_ours": [],
                                "missing_theirs": [], "different": []}
    assert db.session.get(Reconciliation, answer.record.id).kind == "3202"
    assert not rec.is_reconciled(shop.id, DAY)  # only a 3201 closes the day


def test_details_list_what_is_missing_on_either_side_and_what_differs(day, factory):
    """The POS lost one, invented one, has another amount for one and calls a cancel paid."""
    shop, rows = day
    other_day = add(shop, factory.person(), 321, at=NOW - timedelta(days=1))
    theirs = their_rows(rows)
    lost = theirs.pop(0)
    theirs[0] = (theirs[0][0], 1001, theirs[0][2])  # the ¥10.00 one, one fen more
    theirs[2] = (theirs[2][0], theirs[2][1], "settled")  # the cancelled one
    theirs.append(("NOT-OURS-1", 500, "settled"))
    theirs.append((other_day.public_id, 321, "settled"))  # yesterday's is not this day's
    with clock.frozen_at(NOW):
        answer = rec.compare_details(shop.id, DAY, theirs)
    assert answer.result == "mismatch"
    assert [r.settlement_id for r in answer.missing_ours] == ["NOT-OURS-1", other_day.public_id]
    assert answer.missing_theirs == [rec.DetailRow(lost[0], 2350, "settled")]
    assert answer.different == [
        rec.DetailDifference(rows[1].public_id, 1000, 1001, "settled", "settled"),
        rec.DetailDifference(rows[3].public_id, 800, 800, "cancelled", "settled"),
    ]
    assert answer.as_dict()["different"][1]["theirs_state"] == "settled"


@pytest.mark.parametrize("rows,field", [
    ([("A", 100, "paid")], "state"),
    ([("A", -1, "settled")], "amount_fen"),
    ([("A", 100, "settled"), ("A", 100, "settled")], "settlement_id"),
    ([("", 100, "settled")], "settlement_id"),
    ([("A", 100)], "rows"),
])
def test_bad_detail_rows_are_refused(day, rows, field):
    """invalid_reconciliation on the offending field; no row."""
    shop, _ = day
    with clock.frozen_at(NOW), pytest.raises(DomainError) as err:
        rec.compare_details(shop.id, DAY, rows)
    assert err.value.code == "invalid_reconciliation" and err.value.field == field
    assert db.session.scalar(select(Reconciliation.id)) is None
