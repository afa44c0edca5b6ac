"""家庭共济 消费明细 (read side): every payment from the owner's account for a member, by member
and month, with totals; and the page model the 消费明细 page shows.

A payment whose settlement was cancelled (撤销) stays listed, marked, and counts in no total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.aid.payments import month_bounds
from webapp.aid.queries import group_of
from webapp.charts import Bar
from webapp.codes.records import bars_of, china_month, month_start, year_bounds
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.models import (
    AidMember,
    InsuredPerson,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    Settlement,
)


@dataclass(frozen=True)
class Spending:
    """One payment from the owner's account for a member."""

    entry: LedgerEntry
    settlement: Settlement | None
    member: InsuredPerson | None
    pharmacy: Pharmacy | None

    @property
    def amount_fen(self) -> int:
        """The amount paid (the ledger row is a debit)."""
        return -self.entry.amount_fen

    @property
    def cancelled(self) -> bool:
        """Whether the purchase was cancelled (the money went back to the owner)."""
        return self.settlement is not None and \
            self.settlement.status == SettlementStatus.CANCELLED


@dataclass(frozen=True)
class MemberTotal:
    """What one member spent from the owner's account (in the filtered period)."""

    person: InsuredPerson
    count: int
    total_fen: int


def parse_month(text: str | None) -> date | None:
    """'2026-03' → date(2026, 3, 1); None for empty or malformed text."""
    text = (text or "").strip()
    if len(text) != 7 or text[4] != "-":
        return None
    try:
        year, month = int(text[:4]), int(text[5:])
        return date(year, month, 1) if 2000 <= year <= 2100 else None
    except ValueError:
        return None


def recent_months(count: int = 12, today: date | None = None) -> list[date]:
    """The first days of this and the previous ``count - 1`` China months, newest first."""
    day = month_start(today or clock.today())
    out = []
    for _ in range(count):
        out.append(day)
        day = month_start(date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1))
    return out


def _filters(owner: InsuredPerson, member_person_id: int | None,
             month: date | None) -> list[Any]:
    account_id = select(PersonalAccount.id).where(PersonalAccount.person_id == owner.id)
    where = [LedgerEntry.account_id.in_(account_id.scalar_subquery()),
             LedgerEntry.kind == "aid_payment"]
    if member_person_id is not None:
        where.append(LedgerEntry.beneficiary_person_id == member_person_id)
    if month is not None:
        start, end = month_bounds(month)
        where += [LedgerEntry.created_at >= start, LedgerEntry.created_at < end]
    return where


def spending_query(owner: InsuredPerson, member_person_id: int | None = None,
                   month: date | None = None) -> Select:
    """Select statement of the owner's 'aid_payment' ledger rows, newest first."""
    return (select(LedgerEntry).where(*_filters(owner, member_person_id, month))
            .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()))


def _people(ids: Iterable[int | None]) -> dict[int, InsuredPerson]:
    """Registry people by id, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in db.session.scalars(
        select(InsuredPerson).where(InsuredPerson.id.in_(wanted)))}


def spendings(rows: Iterable[LedgerEntry]) -> list[Spending]:
    """Ledger rows with their settlement, member and pharmacy (three queries for a page)."""
    entries = list(rows)
    ids = {e.settlement_id for e in entries if e.settlement_id}
    settled = {s.id: s for s in db.session.scalars(
        select(Settlement).options(selectinload(Settlement.pharmacy))
        .where(Settlement.id.in_(ids)))} if ids else {}
    people = _people(e.beneficiary_person_id for e in entries)
    out = []
    for entry in entries:
        s = settled.get(entry.settlement_id) if entry.settlement_id else None
        member = people.get(entry.beneficiary_person_id) if entry.beneficiary_person_id else None
        out.append(Spending(entry, s, member, s.pharmacy if s else None))
    return out


def totals(owner: InsuredPerson, member_person_id: int | None = None,
           month: date | None = None) -> tuple[int, int, list[MemberTotal]]:
    """(count, total fen, per-member totals, largest first) of the filtered payments whose
    purchase was not cancelled."""
    rows = db.session.execute(
        select(LedgerEntry.beneficiary_person_id, func.count(LedgerEntry.id),
               func.coalesce(func.sum(-LedgerEntry.amount_fen), 0))
        .outerjoin(Settlement, Settlement.id == LedgerEntry.settlement_id)
        .where(*_filters(owner, member_person_id, month),
               or_(Settlement.id.is_(None), Settlement.status == SettlementStatus.SETTLED))
        .group_by(LedgerEntry.beneficiary_person_id)
    ).all()
    people = _people(pid for pid, _, _ in rows)
    per = [MemberTotal(people[pid], int(n), int(total)) for pid, n, total in rows
           if pid is not None]
    per.sort(key=lambda t: (-t.total_fen, t.person.id))
    return sum(int(n) for _, n, _ in rows), sum(int(t) for _, _, t in rows), per


@dataclass(frozen=True)
class MemberYear:
    """本年 per member: what the owner's account paid for them by month (for the chart)."""

    person: InsuredPerson
    total_fen: int
    bars: list[Bar]


def member_years(owner: InsuredPerson, member_person_id: int | None = None,
                 today: date | None = None) -> list[MemberYear]:
    """This year's payments (not cancelled) per member and China month, largest total first;
    two queries whatever the number of members and payments."""
    today = today or clock.today()
    start, end = year_bounds(today)
    rows = db.session.execute(
        select(LedgerEntry.beneficiary_person_id, LedgerEntry.created_at, LedgerEntry.amount_fen)
        .outerjoin(Settlement, Settlement.id == LedgerEntry.settlement_id)
        .where(*_filters(owner, member_person_id, None), LedgerEntry.created_at >= start,
               LedgerEntry.created_at < end,
               or_(Settlement.id.is_(None), Settlement.status == SettlementStatus.SETTLED))
    ).all()
    per: dict[int, dict[date, int]] = {}
    for pid, at, amount in rows:
        if pid is None:
            continue
        months = per.setdefault(pid, {})
        m = china_month(at)
        months[m] = months.get(m, 0) - int(amount)
    people = _people(per)
    out = [MemberYear(people[pid], sum(m.values()), bars_of(m, today)) for pid, m in per.items()]
    out.sort(key=lambda y: (-y.total_fen, y.person.id))
    return out


# --- the 消费明细 page ------------------------------------------------------------------------

@dataclass(frozen=True)
class SpendingPage:
    """消费明细: the filter choices, one page of payments and the totals of the filter."""

    page: Pagination
    rows: list[Spending]
    choices: list[AidMember]  # each person who was ever a member (newest membership)
    who: AidMember | None
    month: date | None
    months: list[date]
    count: int
    total_fen: int
    per_member: list[MemberTotal]
    years: list[MemberYear]  # this year by month, per member (the charts)

    @property
    def filters(self) -> dict[str, str]:
        """The query string of the filter (for the pager's links)."""
        return {"member": self.who.public_id if self.who else "",
                "month": self.month.strftime("%Y-%m") if self.month else ""}


def spending_page(owner: InsuredPerson, member: str, month_text: str | None, page: int,
                  per_page: int) -> SpendingPage | None:
    """What the 消费明细 page shows for the filter (None when the owner has no group)."""
    group = group_of(owner)
    if group is None:
        return None
    members = db.session.scalars(
        select(AidMember).options(selectinload(AidMember.person))
        .where(AidMember.group_id == group.id).order_by(AidMember.id.desc())).all()
    choices: dict[str, AidMember] = {}
    seen: set[int] = set()
    for m in members:
        if m.person_id not in seen:
            seen.add(m.person_id)
            choices[m.public_id] = m
    who = choices.get(member)
    month = parse_month(month_text)
    person_id = who.person_id if who else None
    found = db.paginate(spending_query(owner, person_id, month), page=page, per_page=per_page,
                        error_out=False)
    count, total, per_member = totals(owner, person_id, month)
    return SpendingPage(found, spendings(found.items), list(choices.values()), who, month,
                        recent_months(), count, total, per_member,
                        member_years(owner, person_id))
