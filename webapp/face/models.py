"""Simulated face checks (人脸识别): one challenge per attempt, only the image hash kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model
from webapp.face.states import FaceResult
from webapp.states import status_check, status_column


class FaceCheck(PublicIdMixin, CreatedAtMixin, Model):
    """A face-check attempt for one person and purpose (its random actions kept); a pass is
    good once for a while."""

    __tablename__ = "face_check"
    __table_args__ = (status_check(FaceResult, column="result", name="result"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))
    nonce: Mapped[str] = mapped_column(String(64))
    next_url: Mapped[str] = mapped_column(String(300), default="/")
    result: Mapped[FaceResult] = status_column(FaceResult, 10, default=FaceResult.PENDING)
    # The liveness actions asked of this attempt, in order ("blink,turn_left"), and how it was
    # decided: "live" (camera frames) or "photo" (the fallback, where the policy allows it).
    actions: Mapped[str] = mapped_column(String(60), default="")
    method: Mapped[str] = mapped_column(String(10), default="")
    image_sha256: Mapped[str] = mapped_column(String(64), default="")
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime)
