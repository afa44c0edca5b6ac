"""POS API keys: one pharmacy's programmatic access to the JSON API (only a hash is kept)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.columns import CreatedAtMixin
from webapp.extensions import Model


class ApiKey(CreatedAtMixin, Model):
    """An API key ``qy_<prefix>_<secret>`` of a pharmacy's POS system.

    The clear key is shown once, by the CLI that creates it. ``prefix`` (public, unique) finds
    the row; ``key_hash`` is the SHA-256 hex of the whole key, compared in constant time. A
    revoked key (``revoked_at`` set) is refused from then on.
    """

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacy.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    pharmacy = relationship("Pharmacy")

    @property
    def is_active(self) -> bool:
        """Whether the key may still be used."""
        return self.revoked_at is None
