"""Shared column helpers: opaque public ids and timestamps."""

import secrets
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp import clock


def new_public_id() -> str:
    """A random URL-safe identifier (16 chars, 96 bits) for use in URLs instead of row ids."""
    return secrets.token_urlsafe(12)


class PublicIdMixin:
    """Adds an opaque, unique ``public_id`` used in every URL that names the row."""

    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, index=True, default=new_public_id, nullable=False
    )


class CreatedAtMixin:
    """Adds ``created_at`` (naive UTC from the app clock)."""

    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, nullable=False)
