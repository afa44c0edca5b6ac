"""Audit log: who did what, to what, when and from where."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.columns import CreatedAtMixin
from webapp.extensions import Model


class AuditLog(CreatedAtMixin, Model):
    """One sensitive action; rows are only ever added."""

    __tablename__ = "audit_log"
    # Searched and exported by date range.
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Free text for actors without a user row (a failed login's phone, an API key, the CLI).
    actor_label: Mapped[str] = mapped_column(String(80), default="")
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(40), default="")
    # The registry person the action concerns, so the trail can be searched by ID number.
    subject_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("insured_person.id"), index=True
    )
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # The request it happened in (X-Request-Id; '' from the CLI): joins the row to the access log.
    request_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
