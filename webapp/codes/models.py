"""医保码 and 药店结算: short-lived single-use codes, and the purchases settled with them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.codes.states import MessageKind, SettlementStatus
from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model
from webapp.states import status_check, status_column


class InsuranceCode(CreatedAtMixin, Model):
    """One issued 医保码: only the SHA-256 of the opaque short code is stored.

    ``person`` is whose insurance the code stands for (the patient); ``holder`` and ``binding``
    are set when a holder shows it on the person's behalf (亲情账户). ``used_at`` is set exactly
    once, by the conditional UPDATE of the settlement. A pharmacy's verify step stores the hash
    of a short-lived settlement token here, bound to that pharmacy.
    """

    __tablename__ = "insurance_code"
    __table_args__ = (
        Index("ix_insurance_code_issuer_subject", "issued_by_user_id", "person_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"))
    holder_person_id: Mapped[int | None] = mapped_column(ForeignKey("insured_person.id"))
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("kinship_binding.id"))
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Settlement token of the latest verify (its hash), the pharmacy it is for, its expiry.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_pharmacy_id: Mapped[int | None] = mapped_column(ForeignKey("pharmacy.id"))
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Indexed: the status poll and cancellations go from a settlement to the code that paid it.
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), index=True)

    person = relationship("InsuredPerson", foreign_keys=[person_id])
    holder = relationship("InsuredPerson", foreign_keys=[holder_person_id])
    binding = relationship("KinshipBinding")
    settlement = relationship("Settlement")


class Settlement(PublicIdMixin, CreatedAtMixin, Model):
    """结算单: total = 个人账户支付 + 共济支付 + 个人现金支付, all in integer fen."""

    __tablename__ = "settlement"
    __table_args__ = (
        CheckConstraint("total_fen > 0", name="total_positive"),
        CheckConstraint(
            "account_fen >= 0 AND aid_fen >= 0 AND cash_fen >= 0", name="parts_not_negative"
        ),
        CheckConstraint("total_fen = account_fen + aid_fen + cash_fen", name="parts_add_up"),
        CheckConstraint("cash_refunded_fen >= 0 AND cash_refunded_fen <= cash_fen",
                        name="cash_refund_within_cash"),
        status_check(SettlementStatus),
        Index("ix_settlement_person_created", "person_id", "created_at"),
        Index("ix_settlement_pharmacy_created", "pharmacy_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacy.id"))
    # The patient (参保人) whose code was used.
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"))
    # Set when a holder showed the code on the patient's behalf (亲情账户).
    holder_person_id: Mapped[int | None] = mapped_column(ForeignKey("insured_person.id"))
    binding_id: Mapped[int | None] = mapped_column(ForeignKey("kinship_binding.id"))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Who settled when no staff user did (e.g. "api:<key label>").
    actor_label: Mapped[str] = mapped_column(String(80), default="")
    business_type: Mapped[str] = mapped_column(String(8), default="02121")
    total_fen: Mapped[int] = mapped_column(BigInteger)
    account_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    aid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    aid_owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("insured_person.id"))
    cash_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    items: Mapped[str] = mapped_column(String(200))
    status: Mapped[SettlementStatus] = status_column(
        SettlementStatus, default=SettlementStatus.SETTLED)
    # The msgid of the 2102 message that made it (None for a settle without one).
    msgid: Mapped[str | None] = mapped_column(String(30))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(100))
    # The cash part handed back at the counter when cancelled (= cash_fen once cancelled).
    cash_refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    # Set (not stored) on the object a service returns for a repeated msgid: nothing moved.
    replayed = False

    pharmacy = relationship("Pharmacy")
    person = relationship("InsuredPerson", foreign_keys=[person_id])
    holder = relationship("InsuredPerson", foreign_keys=[holder_person_id])
    aid_owner = relationship("InsuredPerson", foreign_keys=[aid_owner_person_id])
    binding = relationship("KinshipBinding")
    staff = relationship("User")


class MessageRecord(CreatedAtMixin, Model):
    """One state-changing message (msgid) of a pharmacy, kept for the policy's retention days.

    ``fingerprint`` is the SHA-256 of the request's meaning: the same msgid with the same
    fingerprint is answered with ``answer`` (the first answer, JSON) and moves nothing; with a
    different one it is refused. A ``reversed`` row is written by a reversal (2601) of a msgid
    that never arrived, so that its late arrival is refused.
    """

    __tablename__ = "message_record"
    __table_args__ = (
        UniqueConstraint("pharmacy_id", "msgid", name="uq_message_record_pharmacy_msgid"),
        status_check(MessageKind, column="kind", name="kind"),
        Index("ix_message_record_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacy.id"))
    msgid: Mapped[str] = mapped_column(String(30))
    kind: Mapped[MessageKind] = status_column(MessageKind)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"), index=True)
    # For a reversal: the msgid it reversed.
    original_msgid: Mapped[str | None] = mapped_column(String(30))
    answer: Mapped[str] = mapped_column(Text, default="")

    settlement = relationship("Settlement")
