"""`pharmacy reconcile`: a pharmacy's China day per fund, cancelled apart, or its CSV."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup


def add_commands(group: AppGroup) -> None:
    """Add the reconciliation command to the `pharmacy` group."""

    @group.command("reconcile")
    @click.option("--pharmacy", "code", required=True, help="定点机构编码 (Pharmacy.code)")
    @click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]),
                  help="对账日期（中国日期），例如 2024-05-20")
    @click.option("--csv", "as_csv", is_flag=True, help="输出该日对账单 CSV（与对账页面导出相同）")
    def reconcile(code: str, day: datetime, as_csv: bool) -> None:
        """Print a pharmacy's day: settled per fund, cancelled apart, whether it is reconciled."""
        from webapp import clock
        from webapp.codes import records
        from webapp.codes.reconciliation import check_day, day_totals, last_reconciliation
        from webapp.domain import DomainError
        from webapp.money import yuan

        pharmacy = records.pharmacy_by_code(code)
        if pharmacy is None:
            raise click.ClickException(f"没有编码为 {code} 的定点药店")
        try:
            date = check_day(day.date())
        except DomainError as err:
            raise click.ClickException(err.message) from None
        if as_csv:
            click.echo(records.day_csv(pharmacy, date).lstrip("\ufeff"), nl=False)
            return
        t = day_totals(pharmacy.id, date)
        click.echo(f"{pharmacy.name}（{pharmacy.code}）{date.isoformat()} 对账")
        click.echo(f"已结算 {t.count} 笔：费用总额 ¥{yuan(t.total_fen)}，个人账户 ¥{yuan(t.account_fen)}，"
                   f"共济 ¥{yuan(t.aid_fen)}，现金 ¥{yuan(t.cash_fen)}")
        click.echo(f"已撤销 {t.cancelled_count} 笔：¥{yuan(t.cancelled_fen)}（不计入合计）")
        checked = last_reconciliation(pharmacy.id, date)
        if checked is None:
            click.echo("对总账：未对账")
        else:
            click.echo(f"对总账：{checked.result.label}"
                       f"（{clock.china_time(checked.created_at)}）")
