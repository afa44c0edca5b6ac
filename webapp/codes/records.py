"""消费记录 and 药店 read models: a person's purchases with monthly totals (China months, cancelled
ones left out of the sums), a pharmacy's settlements of a day and one receipt."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.charts import Bar
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.masking import mask_name
from webapp.models import InsuredPerson, Pharmacy, Settlement
from webapp.money import yuan


@dataclass(frozen=True)
class MonthTotal:
    """Totals of one China calendar month."""

    month: date  # first day of the month
    count: int
    total_fen: int
    account_fen: int
    aid_fen: int
    cash_fen: int

    @property
    def label(self) -> str:
        """'2024年5月'."""
        return f"{self.month.year}年{self.month.month}月"


def person_query(person: InsuredPerson):
    """Select statement of the person's settlements, newest first."""
    return (
        select(Settlement)
        .options(selectinload(Settlement.pharmacy), selectinload(Settlement.holder))
        .where(Settlement.person_id == person.id)
        .order_by(Settlement.created_at.desc(), Settlement.id.desc())
    )


def pharmacy_day_query(pharmacy: Pharmacy, day: date):
    """Select statement of a pharmacy's settlements of a China day (both states), newest first."""
    start, end = clock.china_midnight_utc(day), clock.china_midnight_utc(day + timedelta(days=1))
    return (
        select(Settlement)
        .options(selectinload(Settlement.person), selectinload(Settlement.holder))
        .where(Settlement.pharmacy_id == pharmacy.id, Settlement.created_at >= start,
               Settlement.created_at < end)
        .order_by(Settlement.created_at.desc(), Settlement.id.desc())
    )


def pharmacy_by_code(code: str) -> Pharmacy | None:
    """The pharmacy with this 定点机构编码 (None when there is none)."""
    return db.session.scalar(select(Pharmacy).where(Pharmacy.code == (code or "").strip()))


def pharmacy_settlement(pharmacy: Pharmacy, public_id: str) -> Settlement | None:
    """One of this pharmacy's settlements by its public id (None for anyone else's)."""
    return db.session.scalar(
        select(Settlement)
        .options(selectinload(Settlement.person), selectinload(Settlement.holder),
                 selectinload(Settlement.staff))
        .where(Settlement.public_id == public_id, Settlement.pharmacy_id == pharmacy.id)
    )


def month_start(day: date) -> date:
    """The first day of the day's month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after the day's month."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def china_month(moment: datetime) -> date:
    """The China calendar month (its first day) of a stored naive-UTC moment."""
    return month_start(clock.to_china(moment).date())


def _totals(where, month: date) -> MonthTotal:
    """Totals of a China month."""
    return _sums(where, month, clock.china_midnight_utc(month),
                 clock.china_midnight_utc(next_month(month)))


def _sums(where, label: date, start: datetime, end: datetime) -> MonthTotal:
    """Count and sums of the settled (not cancelled) settlements matching ``where`` in
    [start, end)."""
    row = db.session.execute(
        select(
            func.count(Settlement.id),
            func.coalesce(func.sum(Settlement.total_fen), 0),
            func.coalesce(func.sum(Settlement.account_fen), 0),
            func.coalesce(func.sum(Settlement.aid_fen), 0),
            func.coalesce(func.sum(Settlement.cash_fen), 0),
        ).where(where, Settlement.status == SettlementStatus.SETTLED.value,
                Settlement.created_at >= start, Settlement.created_at < end)
    ).one()
    return MonthTotal(label, *(int(v) for v in row))


def month_total(person: InsuredPerson, month: date | None = None) -> MonthTotal:
    """The person's totals for a China month (this month by default)."""
    return _totals(Settlement.person_id == person.id, month_start(month or clock.today()))


def month_totals(person: InsuredPerson, items: list[Settlement]) -> dict[date, MonthTotal]:
    """Totals of every month that appears among ``items`` (for per-month headers of a page)."""
    months = sorted({china_month(s.created_at) for s in items}, reverse=True)
    return {m: month_total(person, m) for m in months}


def year_months(today: date) -> list[date]:
    """The first days of the China months of today's year, January up to today's month."""
    return [date(today.year, m, 1) for m in range(1, today.month + 1)]


def year_bounds(today: date) -> tuple[datetime, datetime]:
    """Naive-UTC bounds of 本年 so far: China 1 January to the end of today's China month."""
    return (clock.china_midnight_utc(date(today.year, 1, 1)),
            clock.china_midnight_utc(next_month(month_start(today))))


def year_spending(person_ids: Iterable[int], today: date) -> dict[int, dict[date, int]]:
    """本年医疗费用: per person and China month, the fen of settled (not cancelled) purchases
    from 1 January up to now, in one query."""
    ids = sorted(set(person_ids))
    out: dict[int, dict[date, int]] = {i: {} for i in ids}
    if not ids:
        return out
    start, end = year_bounds(today)
    rows = db.session.execute(
        select(Settlement.person_id, Settlement.created_at, Settlement.total_fen)
        .where(Settlement.person_id.in_(ids), Settlement.status == SettlementStatus.SETTLED.value,
               Settlement.created_at >= start, Settlement.created_at < end)
    ).all()
    for person_id, at, fen in rows:
        months = out[person_id]
        m = china_month(at)
        months[m] = months.get(m, 0) + int(fen)
    return out


def bars_of(per_month: dict[date, int], today: date) -> list[Bar]:
    """The year's months as chart bars ('1月' … this month), zero where nothing was spent."""
    return [Bar(f"{m.month}月", per_month.get(m, 0)) for m in year_months(today)]


CSV_HEADER = ("结算流水号", "结算时间", "参保人", "药品/项目", "费用总额（元）", "个人账户（元）",
              "共济（元）", "现金（元）", "状态", "撤销时间", "撤销原因")


def _cell(text: str) -> str:
    """A typed text as a CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def day_csv(pharmacy: Pharmacy, day: date) -> str:
    """对账单 of a China day as CSV (UTF-8 with BOM for spreadsheets): rows, then both totals."""
    from webapp.codes.reconciliation import day_totals

    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("定点机构编码", pharmacy.code, "药店", _cell(pharmacy.name), "对账日期",
                     day.isoformat()))
    writer.writerow(CSV_HEADER)
    rows = db.session.scalars(pharmacy_day_query(pharmacy, day)).all()
    for s in reversed(rows):  # oldest first, like a journal
        writer.writerow((
            s.public_id, clock.china_time(s.created_at, "%Y-%m-%d %H:%M:%S"),
            mask_name(s.person.name), _cell(s.items), yuan(s.total_fen), yuan(s.account_fen),
            yuan(s.aid_fen), yuan(s.cash_fen), SettlementStatus(s.status).label,
            clock.china_time(s.cancelled_at, "%Y-%m-%d %H:%M:%S"), _cell(s.cancel_reason or ""),
        ))
    totals = day_totals(pharmacy.id, day)
    writer.writerow(())
    writer.writerow(("已结算合计", f"{totals.count}笔", "", "", yuan(totals.total_fen),
                     yuan(totals.account_fen), yuan(totals.aid_fen), yuan(totals.cash_fen)))
    writer.writerow(("已撤销合计", f"{totals.cancelled_count}笔", "", "",
                     yuan(totals.cancelled_fen)))
    return out.getvalue()
