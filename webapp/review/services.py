"""Material review (材料审核) where the region's policy turns it on (Jiangsu in the demo).

A binding of a relative under 16 waits in 待审核 (``pending_review``) until a reviewer of the
医保经办机构 approves it (→ 已绑定) or rejects it with a reason (→ 未通过). The holder may then
upload a new material (重新提交), which puts the same binding back into the queue with a new
deadline. Deadlines are counted in working days (Saturdays and Sundays skipped) with
``webapp.kinship.services.add_working_days``.

Two reviewers deciding one binding at once: the decision is a conditional UPDATE
(``WHERE id = … AND status = 'pending_review' AND version = …``), so exactly one of them
changes the row and the other gets ``Conflict(ALREADY_DECIDED)``; on PostgreSQL the loser's
UPDATE waits for the winner's row lock and then matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import BinaryIO

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, Forbidden, NotFound
from webapp.extensions import db
from webapp.kinship import materials
from webapp.kinship import services as kinship
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import AuditLog, InsuredPerson, KinshipBinding, User
from webapp.policy import material_label, policy_for, relation_label

# Reasons a reviewer picks from (code → the words the holder reads); 'other' needs a text.
REJECT_REASONS = {
    "unclear": "材料不清晰",
    "relation": "关系无法证明",
    "mismatch": "信息不一致",
    "other": "其他",
}
OTHER = "other"
NOTE_MAX = 200
ALREADY_DECIDED = "该申请已由其他审核员处理"
CHANGED = "该申请的材料已更新，请查看最新材料后再审核"
WITHDRAWN = "该申请已撤销或已失效，无需审核"
NOT_PENDING_RESUBMIT = "该申请当前无需重新提交"


# --- working days -----------------------------------------------------------------------

def working_days_between(start: date, end: date) -> int:
    """Working days d with start < d <= end (negative when end is before start).

    The counterpart of ``kinship.add_working_days``: for n >= 0,
    ``working_days_between(day, add_working_days(day, n)) == n``.
    """
    if end < start:
        return -working_days_between(end, start)
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (start + timedelta(days=offset)).weekday() < 5:
            count += 1
    return count


def review_days(binding: KinshipBinding) -> int:
    """The policy's review deadline in working days for the binding's region."""
    return policy_for(binding.region_code).kinship.review_working_days


def due_date(binding: KinshipBinding) -> date:
    """The expected decision date (review_due; from the creation day if it was never set)."""
    if binding.review_due is not None:
        return binding.review_due
    created = clock.to_china(binding.created_at).date()
    return kinship.add_working_days(created, review_days(binding))


@dataclass(frozen=True)
class Waiting:
    """How long a pending binding has waited against its deadline, in working days."""

    due: date
    limit: int  # the policy's working days
    waited: int  # working days since it was (re)submitted
    left: int  # working days until the due date (negative once overdue)

    @property
    def overdue(self) -> bool:
        """Past the due date."""
        return self.left < 0

    @property
    def label(self) -> str:
        """"已等待 1/3 个工作日" or "已超期 2 个工作日"."""
        if self.overdue:
            return f"已超期 {-self.left} 个工作日"
        return f"已等待 {self.waited}/{self.limit} 个工作日"


def waiting(binding: KinshipBinding, today: date | None = None) -> Waiting:
    """Waited and remaining working days of a pending binding on ``today`` (China date).

    Because weekend days are never counted, the working days waited since submission equal
    the policy's limit minus the working days still left until the due date.
    """
    today = today or clock.today()
    due = due_date(binding)
    limit = review_days(binding)
    left = working_days_between(today, due)
    return Waiting(due=due, limit=limit, waited=max(limit - left, 0), left=left)


# --- the reviewer's queue ----------------------------------------------------------------

def queue_query():
    """待审核 bindings, the oldest submission (earliest deadline) first."""
    return (
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.holder), selectinload(KinshipBinding.member))
        .where(KinshipBinding.status == "pending_review")
        .order_by(
            KinshipBinding.review_due.is_(None).desc(),
            KinshipBinding.review_due,
            KinshipBinding.created_at,
            KinshipBinding.id,
        )
    )


def decided_query():
    """Bindings a reviewer has decided, the most recent decision first."""
    return (
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.holder), selectinload(KinshipBinding.member))
        .where(KinshipBinding.reviewed_at.is_not(None))
        .order_by(KinshipBinding.reviewed_at.desc(), KinshipBinding.id.desc())
    )


def reviewer_names(user_ids) -> dict[int, str]:
    """Display names of reviewers by user id (for the 已处理 list)."""
    ids = [i for i in user_ids if i]
    if not ids:
        return {}
    return dict(db.session.execute(
        select(User.id, User.display_name).where(User.id.in_(ids))
    ).all())


def pending_count() -> int:
    """How many bindings wait for review."""
    from sqlalchemy import func

    return db.session.scalar(
        select(func.count(KinshipBinding.id)).where(KinshipBinding.status == "pending_review")
    ) or 0


def for_reviewer(public_id: str) -> KinshipBinding:
    """A binding that is or was under review (404 for any other binding or unknown id)."""
    binding = db.session.scalar(
        select(KinshipBinding).where(KinshipBinding.public_id == public_id)
    )
    if binding is None or not (
        binding.status == "pending_review"
        or binding.reviewed_at is not None
        or binding.review_due is not None
    ):
        raise NotFound("该申请不存在")
    return binding


def history(binding: KinshipBinding) -> list[AuditLog]:
    """The binding's review trail (submitted, decisions, resubmissions), oldest first."""
    return list(db.session.scalars(
        select(AuditLog)
        .where(
            AuditLog.target_type == "KinshipBinding",
            AuditLog.target_id == binding.public_id,
            AuditLog.action.in_(
                ("kinship.binding_created", "review.approved", "review.rejected",
                 "kinship.resubmitted")
            ),
        )
        .order_by(AuditLog.created_at, AuditLog.id)
    ).all())


# --- deciding ------------------------------------------------------------------------------

def reason_text(reason: str, note: str = "") -> str:
    """The reason the holder reads: the chosen label, or the reviewer's own words for 其他."""
    note = (note or "").strip()
    if reason not in REJECT_REASONS:
        raise DomainError("请选择不通过的原因", field="reason", code="reason")
    if reason == OTHER:
        if not note:
            raise DomainError("选择“其他”时请填写具体原因", field="note", code="note_required")
        return note[:NOTE_MAX]
    label = REJECT_REASONS[reason]
    return f"{label}：{note[:NOTE_MAX]}" if note else label


def _require_reviewer(reviewer: User | None) -> User:
    if reviewer is None or getattr(reviewer, "role", None) != "reviewer":
        raise Forbidden("仅审核员可以审核申请", code="forbidden")
    return reviewer


def _decide(binding: KinshipBinding, values: dict, expected_version: int | None) -> None:
    """Move the binding out of 待审核 exactly once (Conflict for the loser of a race)."""
    where = [KinshipBinding.id == binding.id, KinshipBinding.status == "pending_review"]
    if expected_version is not None:
        where.append(KinshipBinding.version == expected_version)
    changed = db.session.execute(
        update(KinshipBinding)
        .where(*where)
        .values(**values, version=KinshipBinding.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        status, reviewed_at = db.session.execute(
            select(KinshipBinding.status, KinshipBinding.reviewed_at)
            .where(KinshipBinding.id == binding.id)
        ).one()
        if status == "pending_review":
            raise Conflict(CHANGED, code="changed")
        if reviewed_at is not None:
            raise Conflict(ALREADY_DECIDED, code="already_decided")
        raise Conflict(WITHDRAWN, code="withdrawn")
    db.session.refresh(binding)


def approve(public_id: str, reviewer: User, actor: Actor,
            expected_version: int | None = None) -> KinshipBinding:
    """通过: the binding becomes 已绑定; both sides are told; one audit row."""
    _require_reviewer(reviewer)
    binding = for_reviewer(public_id)
    now = clock.now()
    _decide(binding, {
        "status": "active",
        "bound_at": now,
        "reviewed_at": now,
        "reviewer_user_id": reviewer.id,
        "reject_reason": "",
    }, expected_version)
    holder, member = binding.holder, binding.member
    who = f"{mask_name(member.name)}（{relation_label(binding.relation)}）"
    messages.send(holder, "家庭成员审核通过，已绑定",
                  f"您添加{who}的申请已审核通过，已绑定。现在可以代其出示医保码。",
                  "review", link=messages.page("review.application", public_id=binding.public_id))
    messages.send(member, "您已被添加为亲情账户家庭成员",
                  f"{mask_name(holder.name)}添加您为亲情账户家庭成员的申请已审核通过"
                  f"（关系：{relation_label(binding.relation)}），可代您出示医保码。", "binding")
    audit.record("review.approved", actor, target=binding, person=member,
                 detail={"holder": holder.public_id})
    db.session.commit()
    return binding


def reject(public_id: str, reviewer: User, reason: str, note: str, actor: Actor,
           expected_version: int | None = None) -> KinshipBinding:
    """不通过 with a reason from the list (其他 + text); the holder reads it and may resubmit."""
    _require_reviewer(reviewer)
    text = reason_text(reason, note)
    binding = for_reviewer(public_id)
    _decide(binding, {
        "status": "rejected",
        "reviewed_at": clock.now(),
        "reviewer_user_id": reviewer.id,
        "reject_reason": text,
    }, expected_version)
    holder, member = binding.holder, binding.member
    who = f"{mask_name(member.name)}（{relation_label(binding.relation)}）"
    messages.send(holder, "家庭成员审核未通过",
                  f"您添加{who}的申请未通过审核。原因：{text}。"
                  "您可以上传新的证明材料后重新提交。",
                  "review", link=messages.page("review.application", public_id=binding.public_id))
    messages.send(member, "亲情账户添加申请未通过",
                  f"{mask_name(holder.name)}添加您为亲情账户家庭成员的申请未通过审核。",
                  "binding")
    audit.record("review.rejected", actor, target=binding, person=member,
                 detail={"reason": reason, "text": text, "holder": holder.public_id})
    db.session.commit()
    return binding


# --- the holder's side ---------------------------------------------------------------------

def holder_binding(holder: InsuredPerson, public_id: str) -> KinshipBinding:
    """One of the holder's bindings that went through review (404 for anyone else's)."""
    binding = db.session.scalar(
        select(KinshipBinding).where(
            KinshipBinding.public_id == public_id,
            KinshipBinding.holder_person_id == holder.id,
        )
    )
    if binding is None or not (
        binding.status in ("pending_review", "rejected") or binding.reviewed_at is not None
    ):
        raise NotFound("该申请不存在")
    return binding


@dataclass(frozen=True)
class ResubmitRules:
    """What a new material for this binding may be."""

    materials: tuple[str, ...]
    formats: tuple[str, ...]
    max_bytes: int
    review_working_days: int


def resubmit_rules(binding: KinshipBinding, today: date | None = None) -> ResubmitRules:
    """Material types, formats and size allowed for the binding's relation and region.

    A relative who has turned the self-confirm age since cannot be bound on material alone.
    """
    today = today or clock.today()
    rules = policy_for(binding.region_code).kinship
    if binding.member.age_on(today) >= rules.self_confirm_age:
        raise DomainError(
            f"该家庭成员已满{rules.self_confirm_age}周岁，需重新添加并由本人确认",
            code="now_adult",
        )
    return ResubmitRules(
        materials=tuple(rules.materials_for(binding.relation, True)),
        formats=tuple(rules.material_formats),
        max_bytes=rules.material_max_bytes,
        review_working_days=rules.review_working_days,
    )


def store_material(holder: InsuredPerson, binding: KinshipBinding, material_type: str,
                   stream: BinaryIO, actor: Actor):
    """Store the new proof file with the materials service (its checks, its audit row)."""
    allowed = resubmit_rules(binding)
    return materials.store(holder, material_type, stream, allowed.materials, allowed.formats,
                           allowed.max_bytes, actor)


def resubmit(holder: InsuredPerson, public_id: str, material, actor: Actor) -> KinshipBinding:
    """重新提交: a 未通过 binding gets the new material and goes back into the queue.

    Relation, letter and everything else stay. The limits are checked again (a rejected
    binding gave its slot back), after row locks on both people.
    """
    binding = holder_binding(holder, public_id)
    if binding.status != "rejected":
        raise Conflict(NOT_PENDING_RESUBMIT, code="not_rejected")
    allowed = resubmit_rules(binding)
    if material is None or material.owner_person_id != holder.id:
        raise DomainError("请上传新的证明材料", field="file", code="material")
    if material.material_type not in allowed.materials:
        names = "、".join(material_label(c) for c in allowed.materials)
        raise DomainError(f"请上传以下材料之一：{names}", field="material_type")
    if material.id == binding.material_id:
        raise DomainError("请上传新的证明材料", field="file", code="same_material")
    member = binding.member
    kinship.lock_people(holder, member)
    db.session.expire_all()  # what committed while we waited for the locks
    if binding.status != "rejected":
        db.session.rollback()
        raise Conflict(NOT_PENDING_RESUBMIT, code="not_rejected")
    if not member.is_active:
        raise DomainError("该家庭成员未处于参保状态", code="not_insured")
    rules = policy_for(binding.region_code).kinship
    kinship.check_limits(holder, member, rules, clock.today())
    due = kinship.add_working_days(clock.today(), rules.review_working_days)
    changed = db.session.execute(
        update(KinshipBinding)
        .where(KinshipBinding.id == binding.id, KinshipBinding.status == "rejected")
        .values(status="pending_review", material_id=material.id, review_due=due,
                reviewed_at=None, reviewer_user_id=None, reject_reason="",
                version=KinshipBinding.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        raise Conflict(NOT_PENDING_RESUBMIT, code="not_rejected")
    db.session.refresh(binding)
    who = f"{mask_name(member.name)}（{relation_label(binding.relation)}）"
    messages.send(holder, "已重新提交审核",
                  f"您添加{who}的申请已重新提交，证明材料将在{due.isoformat()}前审核完成。",
                  "review", link=messages.page("review.application", public_id=binding.public_id))
    messages.send(member, "亲情账户添加申请已重新提交",
                  f"{mask_name(holder.name)}重新提交了添加您为亲情账户家庭成员的申请，材料审核中。",
                  "binding")
    audit.record("kinship.resubmitted", actor, target=binding, person=member,
                 detail={"material": material.public_id, "due": due.isoformat()})
    db.session.commit()
    return binding
