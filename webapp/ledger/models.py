"""个人账户 balances and their ledger: every change of a balance is one LedgerEntry row."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model


class PersonalAccount(Model):
    """职工医保个人账户 of one registry person; the balance never goes negative."""

    __tablename__ = "personal_account"
    __table_args__ = (CheckConstraint("balance_fen >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), unique=True)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    person = relationship("InsuredPerson", back_populates="account")
    entries = relationship("LedgerEntry", back_populates="account", order_by="LedgerEntry.id")


class LedgerEntry(PublicIdMixin, CreatedAtMixin, Model):
    """One balance change: signed amount and the balance after it."""

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("personal_account.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    balance_after_fen: Mapped[int] = mapped_column(BigInteger)
    # opening | deposit | payment (own purchase) | aid_payment (a 共济 member's purchase)
    # | refund / aid_refund (a cancelled settlement's payment / aid_payment given back)
    kind: Mapped[str] = mapped_column(String(20))
    memo: Mapped[str] = mapped_column(String(200), default="")
    # The purchase this change paid for, and whose purchase it was (the 共济 member, or the
    # account owner themselves), for payments.
    settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("settlement.id"), index=True, nullable=True
    )
    beneficiary_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("insured_person.id"), nullable=True
    )
    # A refund row: the payment row it gives back (unique: a payment is refunded once).
    reverses_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_entry.id"), unique=True, nullable=True
    )

    account = relationship("PersonalAccount", back_populates="entries")
