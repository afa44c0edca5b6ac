"""参保人库: the simulated national insured-person registry."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, CheckConstraint, Date, String
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model
from webapp.idnumber import age_on
from webapp.registry.states import InsuredStatus
from webapp.states import status_check, status_column

INSURANCE_TYPES = {"employee": "职工医保", "resident": "居民医保"}
INSURED_STATUSES = InsuredStatus.labels()  # value → label (the CLI accepts either)


class InsuredPerson(PublicIdMixin, CreatedAtMixin, Model):
    """参保人: one person of the registry; gender and birth date come from the ID number."""

    __tablename__ = "insured_person"
    __table_args__ = (
        CheckConstraint("insurance_type in ('employee', 'resident')", name="insurance_type"),
        status_check(InsuredStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    gender: Mapped[str] = mapped_column(String(2))
    birth_date: Mapped[date] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    insurance_type: Mapped[str] = mapped_column(String(12))
    status: Mapped[InsuredStatus] = status_column(InsuredStatus, 12,
                                                  default=InsuredStatus.ACTIVE)
    card_activated: Mapped[bool] = mapped_column(Boolean, default=True)
    # Demo switch: this person's simulated face checks always fail.
    face_check_fails: Mapped[bool] = mapped_column(Boolean, default=False)

    account = relationship("PersonalAccount", back_populates="person", uselist=False)
    # Loaded only where a statement asks for it (with_expression): whether the person has an
    # 家庭共济 membership in force (webapp.aid.payments.may_be_member); None when not asked.
    in_aid_group: Mapped[bool | None] = query_expression()

    @property
    def is_active(self) -> bool:
        """Whether the person is insured right now (参保中)."""
        return self.status == InsuredStatus.ACTIVE

    @property
    def insurance_label(self) -> str:
        """职工医保 / 居民医保."""
        return INSURANCE_TYPES.get(self.insurance_type, self.insurance_type)

    @property
    def status_label(self) -> str:
        """参保中 / 暂停."""
        return InsuredStatus(self.status).label

    def age_on(self, day: date) -> int:
        """Age in 周岁 on the given day."""
        return age_on(self.birth_date, day)

    @property
    def balance_fen(self) -> int:
        """Personal-account balance in fen (0 without an account)."""
        return self.account.balance_fen if self.account else 0
