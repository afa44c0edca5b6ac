"""`flask pharmacy reconcile`: a pharmacy's China day per fund, cancelled apart, or its CSV."""

from __future__ import annotations

from datetime import date, datetime

from tests.test_reconciliation import POS_OK, add
from webapp import clock
from webapp.codes import reconciliation
from webapp.codes.states import SettlementStatus

NOW = datetime(2024, 5, 20, 4, 0)  # 12:00 China time


def seed(factory):
    """仁心大药房 with two settled (one 共济) and one cancelled settlement on 2024-05-20."""
    shop = factory.pharmacy(name="仁心大药房")
    person = factory.person()
    with clock.frozen_at(NOW):
        add(shop, person, 2350, account=2000)
        add(shop, person, 1000, account=600, aid=400)
        add(shop, person, 800, account=800, status=SettlementStatus.CANCELLED)
    return shop


def test_reconcile_prints_the_day_per_fund_and_cancelled_apart(app, runner, factory):
    """Settled 2 笔 ¥33.50 (26.00 / 4.00 / 3.50), cancelled 1 笔 ¥8.00, not reconciled yet."""
    shop = seed(factory)
    with clock.frozen_at(NOW):
        result = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", shop.code,
                                     "--date", "2024-05-20"])
    assert result.exit_code == 0, result.output
    assert f"仁心大药房（{shop.code}）2024-05-20 对账" in result.output
    assert ("已结算 2 笔：费用总额 ¥33.50，个人账户 ¥26.00，共济 ¥4.00，现金 ¥3.50"
            in result.output)
    assert "已撤销 1 笔：¥8.00（不计入合计）" in result.output
    assert "对总账：未对账" in result.output


def test_reconcile_says_when_the_pos_matched(app, runner, factory):
    """After a matched 3201 the command says 对账一致."""
    shop = seed(factory)
    with clock.frozen_at(NOW):
        theirs = {**POS_OK, "count": 2, "total_fen": 3350, "account_fen": 2600,
                  "cash_fen": 350}
        assert reconciliation.compare_totals(shop.id, date(2024, 5, 20), theirs).matched
        result = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", shop.code,
                                     "--date", "2024-05-20"])
    assert "对总账：对账一致" in result.output


def test_reconcile_csv(app, runner, factory):
    """--csv prints the same file as the page's export."""
    shop = seed(factory)
    with clock.frozen_at(NOW):
        result = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", shop.code,
                                     "--date", "2024-05-20", "--csv"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1].startswith("结算流水号,结算时间")
    assert lines[-2].startswith("已结算合计,2笔,,,33.50,26.00,4.00,3.50")
    assert lines[-1].startswith("已撤销合计,1笔,,,8.00")


def test_reconcile_refuses_unknown_pharmacy_bad_and_future_dates(app, runner, factory):
    """Exit 1 or 2 with the reason; nothing printed as a statement."""
    shop = seed(factory)
    with clock.frozen_at(NOW):
        unknown = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", "NOPE",
                                      "--date", "2024-05-20"])
        future = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", shop.code,
                                     "--date", "2024-05-21"])
        bad = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", shop.code,
                                  "--date", "20.5.2024"])
    assert unknown.exit_code == 1 and "没有编码为 NOPE 的定点药店" in unknown.output
    assert future.exit_code == 1 and "不能对尚未到来的日期对账" in future.output
    with clock.frozen_at(NOW):
        ancient = runner.invoke(args=["pharmacy", "reconcile", "--pharmacy", shop.code,
                                      "--date", "1999-12-31"])
    assert ancient.exit_code == 1 and "对账日期不能早于2000-01-01" in ancient.output
    assert bad.exit_code == 2 and "已结算" not in bad.output
