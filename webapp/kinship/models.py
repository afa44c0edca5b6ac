"""亲情账户: bindings between a holder and a relative, their proof materials and signed letters."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.columns import CreatedAtMixin, PublicIdMixin
from webapp.extensions import db

# Binding states (DESIGN.md): 待确认 → 已绑定 / 已拒绝 / 已过期; 待审核 → 已绑定 / 未通过;
# 已绑定 → 已解除.
BINDING_STATUSES = {
    "pending_confirm": "待确认",
    "pending_review": "待审核",
    "active": "已绑定",
    "declined": "已拒绝",
    "expired": "已过期",
    "rejected": "未通过",
    "ended": "已解除",
}
# States that occupy a slot of the holder's member limit and block a duplicate.
OPEN_STATUSES = ("pending_confirm", "pending_review", "active")


class KinshipBinding(PublicIdMixin, CreatedAtMixin, db.Model):
    """A holder (持有人) binds a relative (家庭成员) so they may show the relative's 医保码."""

    __tablename__ = "kinship_binding"
    __table_args__ = (
        CheckConstraint("holder_person_id <> member_person_id", name="not_self"),
        CheckConstraint(
            "status in ('pending_confirm','pending_review','active','declined','expired',"
            "'rejected','ended')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    member_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # policy relation code
    status: Mapped[str] = mapped_column(String(20), index=True)
    # Region whose policy governed the binding (the holder's insured region at creation).
    region_code: Mapped[str] = mapped_column(String(6))
    material_id: Mapped[int | None] = mapped_column(ForeignKey("kinship_material.id"))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("commitment_letter.id"))
    bound_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_by: Mapped[str] = mapped_column(String(20), default="")  # holder | member | system
    # Material review (where the region's policy turns it on).
    review_due: Mapped[date | None] = mapped_column(Date)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewer_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    # A child bound before 16 who has turned 16 must confirm by this date (待本人确认).
    self_confirm_due: Mapped[date | None] = mapped_column(Date)
    # Optimistic-lock counter so two concurrent decisions cannot both stand.
    version: Mapped[int] = mapped_column(Integer, default=1)

    holder = relationship("InsuredPerson", foreign_keys=[holder_person_id])
    member = relationship("InsuredPerson", foreign_keys=[member_person_id])
    material = relationship("KinshipMaterial")
    letter = relationship("CommitmentLetter")

    __mapper_args__ = {"version_id_col": version}

    @property
    def status_label(self) -> str:
        """Chinese label of the state (待本人确认 while a 16-year-old has to confirm)."""
        if self.status == "active" and self.self_confirm_due is not None:
            return "待本人确认"
        return BINDING_STATUSES.get(self.status, self.status)


class KinshipMaterial(PublicIdMixin, CreatedAtMixin, db.Model):
    """证明材料: an uploaded proof file, stored under instance/ with a random name."""

    __tablename__ = "kinship_material"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    material_type: Mapped[str] = mapped_column(String(20))  # policy material code
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class CommitmentLetter(PublicIdMixin, CreatedAtMixin, db.Model):
    """个人承诺书 signed by the holder: letter version, text hash, typed name, drawn signature."""

    __tablename__ = "commitment_letter"

    id: Mapped[int] = mapped_column(primary_key=True)
    signer_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    text_sha256: Mapped[str] = mapped_column(String(64))
    typed_name: Mapped[str] = mapped_column(String(40))
    signature_png: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime] = mapped_column(DateTime)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class Invitation(PublicIdMixin, CreatedAtMixin, db.Model):
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
    # accepted | declined (set with used_at)
    outcome: Mapped[str] = mapped_column(String(10), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    inviter = relationship("InsuredPerson", foreign_keys=[inviter_person_id])
    invitee = relationship("InsuredPerson", foreign_keys=[invitee_person_id])
