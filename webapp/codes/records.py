"""消费记录: settled purchases of a person, newest first, with monthly totals (China months)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.extensions import db
from webapp.models import InsuredPerson, Pharmacy, Settlement


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


def pharmacy_query(pharmacy: Pharmacy, since: datetime, until: datetime | None = None):
    """Select statement of a pharmacy's settlements in [since, until), newest first."""
    stmt = select(Settlement).options(selectinload(Settlement.person)).where(
        Settlement.pharmacy_id == pharmacy.id, Settlement.created_at >= since
    )
    if until is not None:
        stmt = stmt.where(Settlement.created_at < until)
    return stmt.order_by(Settlement.created_at.desc(), Settlement.id.desc())


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
    """Count and sums of the settlements matching ``where`` in [start, end)."""
    row = db.session.execute(
        select(
            func.count(Settlement.id),
            func.coalesce(func.sum(Settlement.total_fen), 0),
            func.coalesce(func.sum(Settlement.account_fen), 0),
            func.coalesce(func.sum(Settlement.aid_fen), 0),
            func.coalesce(func.sum(Settlement.cash_fen), 0),
        ).where(where, Settlement.created_at >= start, Settlement.created_at < end)
    ).one()
    return MonthTotal(label, *(int(v) for v in row))


def month_total(person: InsuredPerson, month: date | None = None) -> MonthTotal:
    """The person's totals for a China month (this month by default)."""
    return _totals(Settlement.person_id == person.id, month_start(month or clock.today()))


def month_totals(person: InsuredPerson, items: list[Settlement]) -> dict[date, MonthTotal]:
    """Totals of every month that appears among ``items`` (for per-month headers of a page)."""
    months = sorted({china_month(s.created_at) for s in items}, reverse=True)
    return {m: month_total(person, m) for m in months}


def day_totals(pharmacy: Pharmacy, day: date | None = None) -> MonthTotal:
    """A pharmacy's totals for one China day (today by default); ``month`` holds the day."""
    day = day or clock.today()
    return _sums(Settlement.pharmacy_id == pharmacy.id, day, clock.china_midnight_utc(day),
                 clock.china_midnight_utc(day + timedelta(days=1)))
