"""医保码: short-lived, single-use codes shown by a person or on their behalf by a holder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import CreatedAtMixin


class InsuranceCode(CreatedAtMixin, db.Model):
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
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlement.id"))

    person = relationship("InsuredPerson", foreign_keys=[person_id])
    holder = relationship("InsuredPerson", foreign_keys=[holder_person_id])
    binding = relationship("KinshipBinding")
    settlement = relationship("Settlement")
