"""家庭共济 at the counter and afterwards: who pays for a member (the settlement seam), and the
owner's 消费明细 (every payment from their account, by member and month, with totals).

``payer_for(patient, remaining_fen, at)`` is what ``webapp.codes.settlement.aid_payer``
asks. It reads only (settle calls it once to learn which account to lock and once more
after the locks are held, so the second answer sees every payment committed meanwhile):

* the patient's open memberships that are 已生效, oldest first, in active groups;
* the owner insured, active, of an insurance type the owner's policy allows; the patient in
  the owner's province where the policy says so;
* the authorisation window (Jiangsu) covers the China date of ``at``;
* the monthly cap (Jiangsu) minus what the owner's account already paid for this patient in
  that China month is left;
* the owner's account has a balance.

The first membership passing all of these names the payer and the most it allows (settle
then caps by the locked balance). Anything else — outside the window, over the cap, a zero
balance — pays nothing, so the rest falls through to self-pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.aid.services import rules_for
from webapp.codes.records import month_start, next_month
from webapp.extensions import db
from webapp.models import (
    AidGroup,
    AidMember,
    InsuredPerson,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    Settlement,
)
from webapp.regions import province_of


@dataclass(frozen=True)
class Payer:
    """The owner whose account pays, the account, and the most allowed for this purchase."""

    owner: InsuredPerson
    account: PersonalAccount
    allowed_fen: int
    member: AidMember


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """The naive-UTC bounds of the China calendar month of ``day``."""
    first = month_start(day)
    return clock.china_midnight_utc(first), clock.china_midnight_utc(next_month(first))


def paid_in_month(owner: InsuredPerson, patient: InsuredPerson, day: date) -> int:
    """Fen the owner's account paid for the patient in the China month of ``day``."""
    start, end = month_bounds(day)
    return int(db.session.scalar(
        select(func.coalesce(func.sum(Settlement.aid_fen), 0)).where(
            Settlement.person_id == patient.id, Settlement.aid_owner_person_id == owner.id,
            Settlement.created_at >= start, Settlement.created_at < end)
    ) or 0)


def _owner_may_pay(owner: InsuredPerson, patient: InsuredPerson) -> bool:
    rules = rules_for(owner)
    if not owner.is_active or owner.insurance_type not in rules.insurance_types:
        return False
    if rules.same_province and province_of(patient.region_code) != province_of(owner.region_code):
        return False
    return True


def payer_for(patient: InsuredPerson, remaining_fen: int, at: datetime) -> Payer | None:
    """Whose account pays (part of) ``remaining_fen`` for the patient at ``at``; side-effect free."""
    if remaining_fen <= 0:
        return None
    day = clock.to_china(at).date()
    memberships = db.session.scalars(
        select(AidMember).join(AidGroup, AidGroup.id == AidMember.group_id)
        .where(AidMember.person_id == patient.id, AidMember.status == "active",
               AidGroup.status == "active", AidGroup.owner_person_id != patient.id)
        .order_by(AidMember.joined_at, AidMember.id)
    ).all()
    for member in memberships:
        owner = member.group.owner
        if not member.covers(day) or not _owner_may_pay(owner, patient):
            continue
        account = db.session.scalar(
            select(PersonalAccount).where(PersonalAccount.person_id == owner.id))
        if account is None or account.balance_fen <= 0:
            continue
        allowed = remaining_fen
        if member.monthly_cap_fen is not None:
            left = member.monthly_cap_fen - paid_in_month(owner, patient, day)
            if left <= 0:
                continue
            allowed = min(allowed, left)
        return Payer(owner, account, allowed, member)
    return None


# --- 消费明细 -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spending:
    """One payment from the owner's account for a member."""

    entry: LedgerEntry
    settlement: Settlement | None
    member: InsuredPerson | None
    pharmacy: Pharmacy | None

    @property
    def amount_fen(self) -> int:
        return -self.entry.amount_fen


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


def _filters(owner: InsuredPerson, member_person_id: int | None, month: date | None):
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
                   month: date | None = None):
    """Select statement of the owner's 'aid_payment' ledger rows, newest first."""
    return (select(LedgerEntry).where(*_filters(owner, member_person_id, month))
            .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()))


def _people(ids) -> dict[int, InsuredPerson]:
    """Registry people by id, in one query."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {p.id: p for p in db.session.scalars(
        select(InsuredPerson).where(InsuredPerson.id.in_(ids)))}


def spendings(entries) -> list[Spending]:
    """Ledger rows with their settlement, member and pharmacy (three queries for a page)."""
    entries = list(entries)
    ids = {e.settlement_id for e in entries if e.settlement_id}
    settled = {s.id: s for s in db.session.scalars(
        select(Settlement).options(selectinload(Settlement.pharmacy))
        .where(Settlement.id.in_(ids)))} if ids else {}
    people = _people(e.beneficiary_person_id for e in entries)
    out = []
    for entry in entries:
        s = settled.get(entry.settlement_id)
        out.append(Spending(entry, s, people.get(entry.beneficiary_person_id),
                            s.pharmacy if s else None))
    return out


def totals(owner: InsuredPerson, member_person_id: int | None = None,
           month: date | None = None) -> tuple[int, int, list[MemberTotal]]:
    """(count, total fen, per-member totals, largest first) of the filtered payments."""
    rows = db.session.execute(
        select(LedgerEntry.beneficiary_person_id, func.count(LedgerEntry.id),
               func.coalesce(func.sum(-LedgerEntry.amount_fen), 0))
        .where(*_filters(owner, member_person_id, month))
        .group_by(LedgerEntry.beneficiary_person_id)
    ).all()
    people = _people(pid for pid, _, _ in rows)
    per = [MemberTotal(people[pid], int(n), int(total)) for pid, n, total in rows
           if pid is not None]
    per.sort(key=lambda t: (-t.total_fen, t.person.id))
    return sum(int(n) for _, n, _ in rows), sum(int(t) for _, _, t in rows), per
