"""Invitation links: only the token's hash is stored; the state is read from the timestamps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp import clock
from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import Model
from webapp.invitations.states import InvitationStatus


class Invitation(PublicIdMixin, CreatedAtMixin, Model):
    """An invitation link for a relative aged 16+: only the token's hash is stored.

    Reused by 家庭共济: ``kind`` says which flow, ``target_id`` names the row it confirms
    (a KinshipBinding for 'kinship', an aid membership for 'aid').
    """

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="kinship")
    target_id: Mapped[int] = mapped_column(Integer, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    inviter_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    invitee_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # InvitationOutcome value, set with used_at ("" while unanswered)
    outcome: Mapped[str] = mapped_column(String(10), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    inviter = relationship("InsuredPerson", foreign_keys=[inviter_person_id])
    invitee = relationship("InsuredPerson", foreign_keys=[invitee_person_id])

    def status_at(self, at: datetime | None = None) -> InvitationStatus:
        """待处理 / 已处理 / 已撤回 / 已过期 at ``at`` (now by default): expiry is read, not written."""
        if self.used_at is not None:
            return InvitationStatus.USED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= (at or clock.now()):
            return InvitationStatus.EXPIRED
        return InvitationStatus.OPEN

    @property
    def status(self) -> InvitationStatus:
        """The state right now."""
        return self.status_at()
