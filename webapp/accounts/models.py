"""User accounts (insured persons, pharmacy staff, reviewers) and pharmacies."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import db

ROLES = {"insured": "参保人", "pharmacy": "药店工作人员", "reviewer": "医保经办审核员"}


class Pharmacy(PublicIdMixin, CreatedAtMixin, db.Model):
    """定点药店: a designated pharmacy whose staff settle purchases."""

    __tablename__ = "pharmacy"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # 定点机构编码
    name: Mapped[str] = mapped_column(String(80))
    region_code: Mapped[str] = mapped_column(String(6))

    staff = relationship("User", back_populates="pharmacy")


class User(UserMixin, PublicIdMixin, CreatedAtMixin, db.Model):
    """A login: phone + password, with one role."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role in ('insured', 'pharmacy', 'reviewer')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12), default="insured")
    # Insured users are exactly one registry person; staff have a display name instead.
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("insured_person.id"), unique=True, nullable=True
    )
    display_name: Mapped[str] = mapped_column(String(40), default="")
    pharmacy_id: Mapped[int | None] = mapped_column(ForeignKey("pharmacy.id"), nullable=True)
    elder_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    person = relationship("InsuredPerson")
    pharmacy = relationship("Pharmacy", back_populates="staff")

    def get_id(self) -> str:
        """Flask-Login session id: the opaque public id, never the row id."""
        return self.public_id

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password."""
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """Whether the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def name(self) -> str:
        """The name to greet the user with."""
        return self.person.name if self.person else self.display_name

    @property
    def role_label(self) -> str:
        """Chinese label of the role."""
        return ROLES.get(self.role, self.role)
