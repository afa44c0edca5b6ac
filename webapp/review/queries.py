"""Read side of material review: the queue, one application, the holder's application page.

Pages call these and hold no SQL; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.kinship import letters, materials
from webapp.kinship.states import BindingStatus
from webapp.models import AuditLog, InsuredPerson, KinshipBinding, User
from webapp.policy import material_label, relation_label
from webapp.review.rules import REJECT_REASONS, ResubmitRules, Waiting, resubmit_rules, waiting
from webapp.review.states import UNDER_REVIEW, holder_pill, reviewer_pill
from webapp.units import size_text

PENDING = BindingStatus.PENDING_REVIEW
HISTORY_ACTIONS = ("kinship.binding_created", "review.approved", "review.rejected",
                   "kinship.resubmitted")


def queue_query() -> Select:
    """待审核 bindings, the oldest submission (earliest deadline) first."""
    return (
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.holder), selectinload(KinshipBinding.member))
        .where(KinshipBinding.status == PENDING)
        .order_by(
            KinshipBinding.review_due.is_(None).desc(),
            KinshipBinding.review_due,
            KinshipBinding.created_at,
            KinshipBinding.id,
        )
    )


def decided_query() -> Select:
    """Bindings a reviewer has decided, the most recent decision first."""
    return (
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.holder), selectinload(KinshipBinding.member))
        .where(KinshipBinding.reviewed_at.is_not(None))
        .order_by(KinshipBinding.reviewed_at.desc(), KinshipBinding.id.desc())
    )


def reviewer_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of reviewers by user id (for the 已处理 list)."""
    ids = [i for i in user_ids if i]
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    return {user_id: name for user_id, name in rows}


def pending_count() -> int:
    """How many bindings wait for review."""
    return db.session.scalar(
        select(func.count(KinshipBinding.id)).where(KinshipBinding.status == PENDING)
    ) or 0


def for_reviewer(public_id: str) -> KinshipBinding:
    """A binding that is or was under review (404 for any other binding or unknown id)."""
    binding = db.session.scalar(
        select(KinshipBinding).where(KinshipBinding.public_id == public_id)
    )
    if binding is None or not (
        binding.status == PENDING
        or binding.reviewed_at is not None
        or binding.review_due is not None
    ):
        raise NotFound("该申请不存在")
    return binding


def holder_binding(holder: InsuredPerson, public_id: str) -> KinshipBinding:
    """One of the holder's bindings that went through review (404 for anyone else's)."""
    binding = db.session.scalar(
        select(KinshipBinding).where(
            KinshipBinding.public_id == public_id,
            KinshipBinding.holder_person_id == holder.id,
        )
    )
    if binding is None or not (binding.status in UNDER_REVIEW or binding.reviewed_at is not None):
        raise NotFound("该申请不存在")
    return binding


def history(binding: KinshipBinding) -> list[AuditLog]:
    """The binding's review trail (submitted, decisions, resubmissions), oldest first."""
    return list(db.session.scalars(
        select(AuditLog)
        .where(
            AuditLog.target_type == "KinshipBinding",
            AuditLog.target_id == binding.public_id,
            AuditLog.action.in_(HISTORY_ACTIONS),
        )
        .order_by(AuditLog.created_at, AuditLog.id)
    ).all())


def _waiting(binding: KinshipBinding, today: date) -> Waiting | None:
    """How long it has waited, while it waits."""
    return waiting(binding, today) if binding.status == PENDING else None


def _material_name(binding: KinshipBinding) -> str:
    return material_label(binding.material.material_type) if binding.material else ""


@dataclass
class Page:
    """A page model; ``context()`` is what the template receives."""

    def context(self) -> dict[str, Any]:
        """The fields as template variables (shallow: rows stay objects)."""
        return dict(vars(self))


@dataclass
class QueuePage(Page):
    """待审核 (oldest first, with waited working days) or 已处理 (?tab=done)."""

    tab: str
    page: Any  # flask_sqlalchemy Pagination of KinshipBinding
    rows: list[tuple[KinshipBinding, Waiting | None, Any]]  # binding, waiting, pill
    reviewers: dict[int, str]
    pending: int
    today: date


def queue_page(tab: str, page_no: int, per_page: int) -> QueuePage:
    """The reviewer's queue page."""
    tab = "done" if tab == "done" else "pending"
    stmt = decided_query() if tab == "done" else queue_query()
    page = db.paginate(stmt, page=page_no, per_page=per_page, error_out=False)
    today = clock.today()
    rows = [(b, _waiting(b, today), reviewer_pill(b, decided=True)) for b in page.items]
    return QueuePage(tab=tab, page=page, rows=rows,
                     reviewers=reviewer_names({b.reviewer_user_id for b in page.items}),
                     pending=pending_count(), today=today)


@dataclass
class DetailPage(Page):
    """One application as the reviewer reads it."""

    binding: KinshipBinding
    holder: InsuredPerson
    member: InsuredPerson
    material: Any
    letter: Any
    intact: bool | None  # the signed 承诺书 text still hashes to what was signed
    waiting: Waiting | None
    relation: str
    material_name: str
    history: list[AuditLog]
    reasons: dict[str, str]
    pill: Any
    today: date


def detail_page(binding: KinshipBinding) -> DetailPage:
    """The reviewer's page of one application."""
    today = clock.today()
    letter = binding.letter
    intact = None
    if letter is not None:
        try:
            intact = letters.text_sha256(letters.letter_text(letter.version)) == letter.text_sha256
        except RuntimeError:
            intact = False
    return DetailPage(
        binding=binding, holder=binding.holder, member=binding.member,
        material=binding.material, letter=letter, intact=intact,
        waiting=_waiting(binding, today), relation=relation_label(binding.relation),
        material_name=_material_name(binding), history=history(binding),
        reasons=REJECT_REASONS, pill=reviewer_pill(binding), today=today,
    )


@dataclass
class ApplicationPage(Page):
    """The holder's application: 待审核 with its date, or 未通过 with what may be resubmitted."""

    binding: KinshipBinding
    allowed: ResubmitRules | None
    blocked: str  # why no new material can be submitted (e.g. the relative is now 16)
    relation: str
    waiting: Waiting | None
    material_name: str
    formats: str
    accept: str
    max_text: str
    pill: Any


def application_page(binding: KinshipBinding) -> ApplicationPage:
    """The holder's page of one application under review."""
    allowed = None
    blocked = ""
    if binding.status == BindingStatus.REJECTED:
        try:
            allowed = resubmit_rules(binding)
        except DomainError as err:
            blocked = err.message
    return ApplicationPage(
        binding=binding, allowed=allowed, blocked=blocked,
        relation=relation_label(binding.relation), waiting=_waiting(binding, clock.today()),
        material_name=_material_name(binding),
        formats=materials.formats_text(allowed.formats) if allowed else "",
        accept=materials.accept_attr(allowed.formats) if allowed else "",
        max_text=size_text(allowed.max_bytes) if allowed else "",
        pill=holder_pill(binding),
    )
