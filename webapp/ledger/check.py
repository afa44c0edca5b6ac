"""The ledger's invariants, checked over the whole database (``flask ledger check``).

1. Every account's balance equals the sum of its ledger rows, and its last row's balance-after.
2. Every settlement's split adds up to its amount, and its payment rows to its account / 共济
   parts (each on the right account).
3. Every cancelled settlement is mirrored: each payment row has exactly one refund row of the
   opposite amount on the same account, and the cash part is recorded as refunded; a settled
   one has no refund rows and no cash refunded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.models import LedgerEntry, PersonalAccount, Settlement

PAYMENT_KINDS = ("payment", "aid_payment")
REFUND_KINDS = ("refund", "aid_refund")


@dataclass(frozen=True)
class Problem:
    """One broken invariant: what kind of row, which one, and what is wrong."""

    kind: str  # "account" | "settlement" | "cancel"
    ref: str  # account id or settlement public_id
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}: {self.detail}"


def _accounts() -> list[Problem]:
    sums = dict(db.session.execute(
        select(LedgerEntry.account_id, func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
        .group_by(LedgerEntry.account_id)).all())
    last_ids = select(func.max(LedgerEntry.id)).group_by(LedgerEntry.account_id)
    lasts = dict(db.session.execute(
        select(LedgerEntry.account_id, LedgerEntry.balance_after_fen)
        .where(LedgerEntry.id.in_(last_ids))).all())
    problems = []
    for account_id, balance in db.session.execute(
            select(PersonalAccount.id, PersonalAccount.balance_fen)).all():
        total = int(sums.get(account_id, 0))
        if balance != total:
            problems.append(Problem("account", str(account_id),
                                    f"balance {balance} != ledger sum {total}"))
        if account_id in lasts and lasts[account_id] != balance:
            problems.append(Problem("account", str(account_id),
                                    f"balance {balance} != last balance_after {lasts[account_id]}"))
        if balance < 0:
            problems.append(Problem("account", str(account_id), f"negative balance {balance}"))
    return problems


def _settlement(s: Settlement, rows: list[LedgerEntry], own_account: int | None,
                owner_account: int | None) -> list[Problem]:
    problems = []

    def bad(kind: str, detail: str) -> None:
        problems.append(Problem(kind, s.public_id, detail))

    if s.total_fen != s.account_fen + s.aid_fen + s.cash_fen or min(
            s.account_fen, s.aid_fen, s.cash_fen) < 0:
        bad("settlement", f"split {s.account_fen}+{s.aid_fen}+{s.cash_fen} != {s.total_fen}")
    paid = [r for r in rows if r.kind in PAYMENT_KINDS]
    own = -sum(r.amount_fen for r in paid if r.kind == "payment")
    aid = -sum(r.amount_fen for r in paid if r.kind == "aid_payment")
    if own != s.account_fen or aid != s.aid_fen:
        bad("settlement", f"payment rows {own}/{aid} != parts {s.account_fen}/{s.aid_fen}")
    for r in paid:
        expected = own_account if r.kind == "payment" else owner_account
        if r.account_id != expected:
            bad("settlement", f"ledger row {r.id} on account {r.account_id}, not {expected}")
    refunds = [r for r in rows if r.kind in REFUND_KINDS]
    if s.status != SettlementStatus.CANCELLED:
        if refunds or s.cash_refunded_fen:
            bad("cancel", "refund rows or cash refund on a settlement that is not cancelled")
        return problems
    by_payment: dict[int | None, list[LedgerEntry]] = defaultdict(list)
    for r in refunds:
        by_payment[r.reverses_entry_id].append(r)
    for p in paid:
        mirrors = by_payment.pop(p.id, [])
        if len(mirrors) != 1 or mirrors[0].amount_fen != -p.amount_fen or \
                mirrors[0].account_id != p.account_id:
            bad("cancel", f"payment row {p.id} is not refunded exactly once")
    if by_payment:
        bad("cancel", f"refund rows without their payment: {sorted(map(str, by_payment))}")
    if s.cash_refunded_fen != s.cash_fen:
        bad("cancel", f"cash refunded {s.cash_refunded_fen} != cash {s.cash_fen}")
    if s.cancelled_at is None:
        bad("cancel", "cancelled without cancelled_at")
    return problems


def check() -> list[Problem]:
    """Every broken invariant of the ledger (empty when all is well). Reads only."""
    problems = _accounts()
    accounts = dict(db.session.execute(
        select(PersonalAccount.person_id, PersonalAccount.id)).all())
    rows: dict[int, list[LedgerEntry]] = defaultdict(list)
    for row in db.session.scalars(select(LedgerEntry).where(
            LedgerEntry.settlement_id.is_not(None)).order_by(LedgerEntry.id)):
        rows[row.settlement_id or 0].append(row)
    for s in db.session.scalars(select(Settlement).order_by(Settlement.id)):
        problems += _settlement(s, rows.get(s.id, []), accounts.get(s.person_id),
                                accounts.get(s.aid_owner_person_id or 0))
    return problems
