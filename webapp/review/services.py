"""Material review (材料审核) where the region's policy turns it on (Jiangsu in the demo).

A binding of a relative under 16 waits in 待审核 (``pending_review``) until a reviewer of the
医保经办机构 approves it (→ 已绑定) or rejects it with a reason (→ 未通过). The holder may then
upload a new material (重新提交), which puts the same binding back into the queue with a new
deadline. Deadlines are counted in working days (weekends and China's public holidays
skipped, make-up working days counted: ``webapp.workdays``). Each command looks its transition up in the
binding's table (``webapp.review.states.step``), applies it, audits, notifies and commits.

Two reviewers deciding one binding at once: the decision is a conditional UPDATE
(``WHERE id = … AND status = 'pending_review' AND version = …``), so exactly one of them
changes the row and the other gets ``Conflict(ALREADY_DECIDED)``; on PostgreSQL the loser's
UPDATE waits for the winner's row lock and then matches nothing.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from sqlalchemy import select, update

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, Forbidden
from webapp.extensions import db, rows_changed
from webapp.kinship import materials
from webapp.kinship import services as kinship
from webapp.kinship.states import BindingStatus
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import InsuredPerson, KinshipBinding, User
from webapp.policy import material_label, policy_for, relation_label
from webapp.review import notices
from webapp.review.queries import for_reviewer, holder_binding
from webapp.review.rules import (
    ALREADY_DECIDED,
    CHANGED,
    NOT_PENDING_RESUBMIT,
    NOTE_MAX,
    OTHER,
    REJECT_REASONS,
    WITHDRAWN,
    ResubmitRules,
    Waiting,
    due_date,
    reason_text,
    resubmit_rules,
    review_days,
    waiting,
    working_days_between,
)
from webapp.review.states import RESUBMIT, Decision, step
from webapp.states import Transition

__all__ = [
    "ALREADY_DECIDED", "CHANGED", "NOT_PENDING_RESUBMIT", "NOTE_MAX", "OTHER", "REJECT_REASONS",
    "WITHDRAWN", "ResubmitRules", "Waiting", "approve", "due_date", "reason_text",
    "record_full_view", "reject", "resubmit", "resubmit_rules", "review_days", "store_material", "waiting",
    "working_days_between",
]

PENDING = BindingStatus.PENDING_REVIEW


def _require_reviewer(reviewer: User | None) -> User:
    """The reviewer, or Forbidden for anyone else."""
    if reviewer is None or getattr(reviewer, "role", None) != "reviewer":
        raise Forbidden("仅审核员可以审核申请", code="forbidden")
    return reviewer


def _decide(binding: KinshipBinding, values: dict[str, Any], expected_version: int | None) -> None:
    """Move the binding out of 待审核 exactly once (Conflict for the loser of a race)."""
    where = [KinshipBinding.id == binding.id, KinshipBinding.status == PENDING]
    if expected_version is not None:
        where.append(KinshipBinding.version == expected_version)
    changed = rows_changed(
        update(KinshipBinding)
        .where(*where)
        .values(**values, version=KinshipBinding.version + 1)
    )
    if changed != 1:
        db.session.rollback()
        status, reviewed_at = db.session.execute(
            select(KinshipBinding.status, KinshipBinding.reviewed_at)
            .where(KinshipBinding.id == binding.id)
        ).one()
        if status == PENDING:
            raise Conflict(CHANGED, code="changed")
        if reviewed_at is not None:
            raise Conflict(ALREADY_DECIDED, code="already_decided")
        raise Conflict(WITHDRAWN, code="withdrawn")
    db.session.refresh(binding)


def _notify(binding: KinshipBinding, event: str, **values: str) -> None:
    """Tell the holder and the relative what happened (the review notice table)."""
    holder, member = binding.holder, binding.member
    relation = relation_label(binding.relation)
    to_holder, to_member = notices.texts(
        event, who=f"{mask_name(member.name)}（{relation}）", relation=relation,
        holder=mask_name(holder.name), **values)
    link = messages.page("review.application", public_id=binding.public_id)
    messages.send(holder, to_holder[0], to_holder[1], to_holder[2], link=link)
    messages.send(member, to_member[0], to_member[1], to_member[2])


def _decision(public_id: str, reviewer: User,
              decision: Decision) -> tuple[KinshipBinding, Transition]:
    """The binding and its transition, once the reviewer and the state allow the decision
    (Conflict if not)."""
    _require_reviewer(reviewer)
    binding = for_reviewer(public_id)
    if binding.status == PENDING:
        return binding, step(binding.status, decision)
    raise Conflict(ALREADY_DECIDED if binding.reviewed_at is not None else WITHDRAWN,
                   code="already_decided" if binding.reviewed_at is not None else "withdrawn")


def approve(public_id: str, reviewer: User, actor: Actor,
            expected_version: int | None = None) -> KinshipBinding:
    """通过: the binding becomes 已绑定; both sides are told; one audit row."""
    binding, transition = _decision(public_id, reviewer, Decision.APPROVE)
    now = clock.now()
    _decide(binding, {
        "status": transition.target,
        "bound_at": now,
        "reviewed_at": now,
        "reviewer_user_id": reviewer.id,
        "reject_reason": "",
    }, expected_version)
    for event in transition.notify:  # "approve"
        _notify(binding, event)
    audit.record("review.approved", actor, target=binding, person=binding.member,
                 detail={"holder": binding.holder.public_id})
    db.session.commit()
    return binding


def reject(public_id: str, reviewer: User, reason: str, note: str, actor: Actor,
           expected_version: int | None = None) -> KinshipBinding:
    """不通过 with a reason from the list (其他 + text); the holder reads it and may resubmit."""
    _require_reviewer(reviewer)
    text = reason_text(reason, note)
    binding, transition = _decision(public_id, reviewer, Decision.REJECT)
    _decide(binding, {
        "status": transition.target,
        "reviewed_at": clock.now(),
        "reviewer_user_id": reviewer.id,
        "reject_reason": text,
    }, expected_version)
    for event in transition.notify:  # "reject"
        _notify(binding, event, reason=text)
    audit.record("review.rejected", actor, target=binding, person=binding.member,
                 detail={"reason": reason, "text": text, "holder": binding.holder.public_id})
    db.session.commit()
    return binding


# --- the holder's side ---------------------------------------------------------------------

def record_full_view(binding: KinshipBinding, reviewer: User, actor: Actor) -> None:
    """Audit one reviewer's view of an application with both people's full name and ID number.

    The application page shows them unmasked (the authority checks the material against
    them), so every view leaves a row: who, which binding, whose identities were shown.
    """
    _require_reviewer(reviewer)
    audit.record("review.detail_viewed", actor, target=binding, person=binding.member,
                 detail={"reviewer": reviewer.public_id, "holder": binding.holder.public_id,
                         "member": binding.member.public_id,
                         "status": str(binding.status.value)})
    db.session.commit()


def store_material(holder: InsuredPerson, binding: KinshipBinding, material_type: str,
                   stream: BinaryIO, actor: Actor) -> Any:
    """Store the new proof file with the materials service (its checks, its audit row)."""
    allowed = resubmit_rules(binding)
    return materials.store(holder, material_type, stream, allowed.materials, allowed.formats,
                           allowed.max_bytes, actor)


def _resubmittable(binding: KinshipBinding) -> None:
    """Conflict unless the binding is 未通过 (the only state resubmit starts from)."""
    try:
        step(binding.status, RESUBMIT)
    except Conflict:
        raise Conflict(NOT_PENDING_RESUBMIT, code="not_rejected") from None


def resubmit(holder: InsuredPerson, public_id: str, material: Any,
             actor: Actor) -> KinshipBinding:
    """重新提交: a 未通过 binding gets the new material and goes back into the queue.

    Relation, letter and everything else stay. The limits are checked again (a rejected
    binding gave its slot back), after row locks on both people.
    """
    binding = holder_binding(holder, public_id)
    _resubmittable(binding)
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
    if binding.status != BindingStatus.REJECTED:
        db.session.rollback()
        raise Conflict(NOT_PENDING_RESUBMIT, code="not_rejected")
    if not member.is_active:
        raise DomainError("该家庭成员未处于参保状态", code="not_insured")
    rules = policy_for(binding.region_code).kinship
    kinship.check_limits(holder, member, rules, clock.today())
    due = kinship.add_working_days(clock.today(), rules.review_working_days)
    changed = rows_changed(
        update(KinshipBinding)
        .where(KinshipBinding.id == binding.id,
               KinshipBinding.status == BindingStatus.REJECTED)
        .values(status=step(BindingStatus.REJECTED, RESUBMIT).target, material_id=material.id,
                review_due=due, reviewed_at=None, reviewer_user_id=None, reject_reason="",
                version=KinshipBinding.version + 1)
    )
    if changed != 1:
        db.session.rollback()
        raise Conflict(NOT_PENDING_RESUBMIT, code="not_rejected")
    db.session.refresh(binding)
    _notify(binding, RESUBMIT, due=due.isoformat())
    audit.record("kinship.resubmitted", actor, target=binding, person=member,
                 detail={"material": material.public_id, "due": due.isoformat()})
    db.session.commit()
    return binding
