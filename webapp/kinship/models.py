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
from webapp.extensions import Model
from webapp.kinship.states import AWAITING_SELF, BindingStatus, Shown
from webapp.states import status_check, status_column


class KinshipBinding(PublicIdMixin, CreatedAtMixin, Model):
    """A holder (持有人) binds a relative (家庭成员) so they may show the relative's 医保码."""

    __tablename__ = "kinship_binding"
    __table_args__ = (
        CheckConstraint("holder_person_id <> member_person_id", name="not_self"),
        status_check(BindingStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    holder_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    member_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # policy relation code
    # The relative's contact phone as the holder gave it ('' when none); editable (edit.py).
    phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    status: Mapped[BindingStatus] = status_column(BindingStatus, index=True)
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
    def shown(self) -> BindingStatus | Shown:
        """The state as pages show it (待本人确认 while a 16-year-old has to confirm)."""
        if self.status == BindingStatus.ACTIVE and self.self_confirm_due is not None:
            return AWAITING_SELF
        return BindingStatus(self.status)

    @property
    def status_label(self) -> str:
        """Chinese label of the shown state."""
        return self.shown.label


class KinshipMaterial(PublicIdMixin, CreatedAtMixin, Model):
    """证明材料: an uploaded proof file, stored under instance/ with a random name."""

    __tablename__ = "kinship_material"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_person_id: Mapped[int] = mapped_column(ForeignKey("insured_person.id"), index=True)
    material_type: Mapped[str] = mapped_column(String(20))  # policy material code
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # The pages of one material (户口本 首页 + 本人页) share a set key, numbered from 1; a binding
    # names its first page. None: a material of one page (uploaded before pages existed).
    set_key: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True,
                                                default=None)
    page_no: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class CommitmentLetter(PublicIdMixin, CreatedAtMixin, Model):
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
