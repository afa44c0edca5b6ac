"""The default SMS sender: messages go to the ``sms_outbox`` table, shown by the CLI and the
development page instead of reaching a phone."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from webapp import clock
from webapp.extensions import Model, db


class SmsOutboxMessage(Model):
    """One simulated text message."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, index=True)


class OutboxSender:
    """Write every message to the outbox within the caller's transaction."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def send(self, phone: str, text: str) -> None:
        """Add the message to the outbox (committed with the caller's work)."""
        db.session.add(SmsOutboxMessage(phone=phone, text=text))


def latest(limit: int = 20, phone: str | None = None) -> list[SmsOutboxMessage]:
    """The newest outbox messages, optionally for one phone."""
    query = select(SmsOutboxMessage).order_by(SmsOutboxMessage.id.desc()).limit(limit)
    if phone:
        query = query.where(SmsOutboxMessage.phone == phone)
    return list(db.session.scalars(query))
