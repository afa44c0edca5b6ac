"""家庭共济: a group owned by an employee-insured person and its members, who may spend the
owner's 职工医保个人账户 balance with their own 医保码."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.aid.states import OPEN_STATES, AidGroupStatus, AidMemberStatus, sql_in
from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model
from webapp.states import status_check, status_column


class AidGroup(PublicIdMixin, CreatedAtMixin, Model):
    """家庭共济组: one per owner (共济人, an active 职工医保 insured person)."""

    __tablename__ = "aid_group"
    __table_args__ = (status_check(AidGroupStatus),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), unique=True)
    # The owner's insured region when the group was created.
    region_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[AidGroupStatus] = status_column(AidGroupStatus, 12,
                                                   default=AidGroupStatus.ACTIVE)
    # Version of the 家庭共济告知书 the owner agreed to.
    notice_version: Mapped[str] = mapped_column(String(20), default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    owner = relationship("InsuredPerson")
    members = relationship("AidMember", back_populates="group", order_by="AidMember.id")


class AidMember(PublicIdMixin, CreatedAtMixin, Model):
    """共济成员 (被共济人): a relative allowed to spend the owner's balance.

    At most one open (待确认 / 已生效) membership per group and person, by a partial unique
    index on both backends. ``starts_on``/``ends_on`` (China dates, inclusive) and
    ``monthly_cap_fen`` are set only where the owner's policy allows them (Jiangsu).
    """

    __tablename__ = "aid_member"
    __table_args__ = (
        status_check(AidMemberStatus),
        CheckConstraint("monthly_cap_fen IS NULL OR monthly_cap_fen > 0", name="cap_positive"),
        CheckConstraint(
            "starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on", name="window_order"
        ),
        Index(
            "uq_aid_member_open",
            "group_id",
            "person_id",
            unique=True,
            sqlite_where=text(sql_in(OPEN_STATES)),
            postgresql_where=text(sql_in(OPEN_STATES)),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("aid_group.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # policy relation code (member to owner)
    status: Mapped[AidMemberStatus] = status_column(AidMemberStatus, 20, index=True)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    monthly_cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    joined_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_by: Mapped[str] = mapped_column(String(20), default="")  # owner | member | system

    group = relationship("AidGroup", back_populates="members")
    person = relationship("InsuredPerson")

    @property
    def is_open(self) -> bool:
        """Whether the membership occupies a place (待确认 or 已生效)."""
        return self.status in OPEN_STATES

    def covers(self, day: date) -> bool:
        """Whether the authorisation window (if any) includes the China date ``day``."""
        if self.starts_on is not None and day < self.starts_on:
            return False
        if self.ends_on is not None and day > self.ends_on:
            return False
        return True
