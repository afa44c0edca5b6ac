"""站内消息: in-app messages addressed to a registry person (read by their account)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model


class Message(PublicIdMixin, CreatedAtMixin, Model):
    """One message; persons without an account see theirs once they register."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    # binding | invitation | review | payment | aid | system
    category: Mapped[str] = mapped_column(String(20), default="system")
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
