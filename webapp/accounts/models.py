"""User accounts (insured persons, pharmacy staff, reviewers) and pharmacies."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import clock
from webapp.accounts.states import CONSENT_KINDS, AccountStatus
from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model
from webapp.states import status_check, status_column

ROLES = {"insured": "参保人", "pharmacy": "药店工作人员", "reviewer": "医保经办审核员"}


class Pharmacy(PublicIdMixin, CreatedAtMixin, Model):
    """定点药店: a designated pharmacy whose staff settle purchases."""

    __tablename__ = "pharmacy"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # 定点机构编码
    name: Mapped[str] = mapped_column(String(80))
    region_code: Mapped[str] = mapped_column(String(6))

    staff = relationship("User", back_populates="pharmacy")


class User(UserMixin, PublicIdMixin, CreatedAtMixin, Model):
    """A login: phone + password, with one role."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("role in ('insured', 'pharmacy', 'reviewer')", name="role"),
        status_check(AccountStatus),
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
    # 注销账户 (webapp.accounts.closure): a closed account never logs in again; its row stays.
    status: Mapped[AccountStatus] = status_column(AccountStatus, 12, default=AccountStatus.ACTIVE,
                                                  server_default=AccountStatus.ACTIVE.value)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

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
    def is_active(self) -> bool:
        """Flask-Login: a closed account is not active (login_user refuses it)."""
        return self.status != AccountStatus.CLOSED

    @property
    def name(self) -> str:
        """The name to greet the user with."""
        return self.person.name if self.person else self.display_name

    @property
    def role_label(self) -> str:
        """Chinese label of the role."""
        return ROLES.get(self.role, self.role)


class WebSession(Model):
    """Server-side session state: the cookie holds only the random id whose hash keys this row."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Flask-Login's id of the logged-in user (User.public_id), to end a user's sessions.
    user_key: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class LoginFailure(Model):
    """One failed login, counted per phone and per client address by every worker alike."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_phone_at", "phone", "at"),
        Index("ix_login_failure_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class SmsCode(Model):
    """A 6-digit SMS verification code: only its keyed hash is kept; short-lived, single use."""

    __tablename__ = "sms_code"
    __table_args__ = (
        Index("ix_sms_code_phone_purpose_created", "phone", "purpose", "created_at"),
        CheckConstraint("purpose in ('login', 'reset_password', 'change_password')",
                        name="purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Consent(Model):
    """One acceptance of a versioned document (用户协议, 隐私政策, 人脸信息处理规则) by an account.

    Rows are never deleted: a new version accepted is a new row; withdrawing (the face-data
    consent) sets ``withdrawn_at`` on the row it ends.
    """

    __tablename__ = "account_consent"
    __table_args__ = (
        CheckConstraint(
            "kind in (" + ", ".join(f"'{k}'" for k in CONSENT_KINDS) + ")", name="kind"),
        Index("ix_account_consent_user_kind", "user_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(12))
    version: Mapped[str] = mapped_column(String(20))
    # SHA-256 of the exact text accepted (the document file of that version).
    text_sha256: Mapped[str] = mapped_column(String(64), default="")
    accepted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
