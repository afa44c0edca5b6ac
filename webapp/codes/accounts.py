"""Value types of the settlement services (Split, Outcome) and the locked-account ledger writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select

from webapp.codes.notices import parts_text
from webapp.extensions import db, insert_row, write_through
from webapp.models import InsuredPerson, LedgerEntry, PersonalAccount, Settlement


@dataclass(frozen=True)
class Split:
    """How an amount is paid: 个人账户, 家庭共济 (and whose), 个人现金 — all integer fen."""

    total_fen: int
    account_fen: int
    aid_fen: int
    cash_fen: int
    aid_owner: InsuredPerson | None = None

    @property
    def text(self) -> str:
        """'个人账户¥20.00，现金¥3.50'."""
        return parts_text(self.account_fen, self.aid_fen, self.cash_fen)


@dataclass(frozen=True)
class Outcome:
    """A settle / cancel / reversal answered: its settlement, whether it is a replay, the answer."""

    settlement: Settlement | None
    replayed: bool
    answer: dict[str, Any] | None = None


def lock_accounts(ids: list[int]) -> dict[int, PersonalAccount]:
    """The accounts of these ids, locked FOR UPDATE in id order (no deadlock between payers)."""
    rows = db.session.scalars(_accounts_locked(), {"ids": sorted(set(ids))},
                              execution_options={"populate_existing": True}).all()
    return {a.id: a for a in rows}


@cache
def _accounts_locked() -> Select:
    """Accounts by ``ids`` (expanding), FOR UPDATE in id order, built once."""
    return (select(PersonalAccount)
            .where(PersonalAccount.id.in_(bindparam("ids", expanding=True)))
            .order_by(PersonalAccount.id)
            .with_for_update())


def debit(account: PersonalAccount, fen: int, kind: str, settlement: Settlement,
           beneficiary: InsuredPerson, memo: str, now: datetime) -> None:
    """Take ``fen`` from a locked account and write the ledger row with the balance after."""
    post(account, -fen, kind, memo, settlement.id, beneficiary.id, now)


def post(account: PersonalAccount, amount_fen: int, kind: str, memo: str,
         settlement_id: int | None, beneficiary_person_id: int | None, now: datetime,
         reverses_entry_id: int | None = None) -> None:
    """Move a locked account's balance by ``amount_fen`` (signed) and write its ledger row: an
    UPDATE and an INSERT sent at once (the loaded account reads the new balance; no unit of
    work flush for either)."""
    balance = account.balance_fen + amount_fen
    write_through(account, balance_fen=balance)
    insert_row(LedgerEntry, account_id=account.id, amount_fen=amount_fen,
               balance_after_fen=balance, kind=kind, memo=memo[:200], settlement_id=settlement_id,
               beneficiary_person_id=beneficiary_person_id, reverses_entry_id=reverses_entry_id,
               created_at=now)
