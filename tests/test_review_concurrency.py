"""Reviewers deciding one binding at the same moment on PostgreSQL: exactly one decision
stands, the others are told, one audit row, one message to the holder."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests import factories
from tests import kinship_factories as kf
from tests.test_review import jiangsu_family, submit
from webapp.audit.services import Actor
from webapp.domain import Conflict
from webapp.extensions import db
from webapp.models import AuditLog, InsuredPerson, KinshipBinding, KinshipMaterial, Message, User
from webapp.review import services as review

pytestmark = pytest.mark.postgres
THREADS = 10


def race(app, jobs):
    """Run each job (a callable taking no arguments, run inside its own app context and
    session) in its own thread, all released at once; return (results, conflicts)."""
    barrier = threading.Barrier(len(jobs))
    results: list = []
    conflicts: list[str] = []
    unexpected: list[BaseException] = []

    def work(job):
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results.append(job())
            except Conflict as err:
                db.session.rollback()
                conflicts.append(err.message)
            except BaseException as err:  # noqa: BLE001 — reported below
                db.session.rollback()
                unexpected.append(err)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not unexpected, unexpected
    return results, conflicts


def decision_job(public_id: str, reviewer_id: int, approve: bool):
    def job():
        reviewer = db.session.get(User, reviewer_id)
        actor = Actor(user=reviewer, ip="10.0.0.1")
        if approve:
            return review.approve(public_id, reviewer, actor).status
        return review.reject(public_id, reviewer, "unclear", "", actor).status
    return job


def count(model, **where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


@pytest.mark.parametrize("mix", ["all_approve", "all_reject", "mixed"])
def test_ten_reviewers_at_once_one_decision_stands(pg_app, mix):
    user, child = jiangsu_family(factories)
    binding = submit(user.person, child)
    public_id, holder_id, version = binding.public_id, user.person_id, binding.version
    reviewers = [factories.staff(role="reviewer", name=f"审核员{i}") for i in range(THREADS)]
    before = count(Message, recipient_person_id=holder_id)
    jobs = [
        decision_job(public_id, r.id,
                     approve=(mix == "all_approve") or (mix == "mixed" and i % 2 == 0))
        for i, r in enumerate(reviewers)
    ]
    results, conflicts = race(pg_app, jobs)

    assert len(results) == 1, (results, conflicts)
    assert conflicts == [review.ALREADY_DECIDED] * (THREADS - 1)
    db.session.expire_all()
    row = db.session.scalar(select(KinshipBinding).filter_by(public_id=public_id))
    assert row.status == results[0]
    assert row.version == version + 1
    decided = db.session.scalars(
        select(AuditLog).where(AuditLog.action.in_(("review.approved", "review.rejected")))
    ).all()
    assert len(decided) == 1
    assert decided[0].actor_user_id == row.reviewer_user_id
    assert decided[0].action == ("review.approved" if row.status == "active"
                                 else "review.rejected")
    assert count(Message, recipient_person_id=holder_id) == before + 1


def test_concurrent_resubmits_enter_the_queue_once(pg_app):
    """A double-tapped 重新提交: one resubmission, one audit row."""
    user, child = jiangsu_family(factories)
    binding = submit(user.person, child)
    reviewer = factories.staff(role="reviewer")
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    new_ids = [kf.material(user.person).id for _ in range(5)]
    public_id, holder_id = binding.public_id, user.person_id

    def job_for(material_id):
        def job():
            holder = db.session.get(InsuredPerson, holder_id)
            material = db.session.get(KinshipMaterial, material_id)
            return review.resubmit(holder, public_id, material, Actor(label="t")).status
        return job

    results, conflicts = race(pg_app, [job_for(m) for m in new_ids])
    assert results == ["pending_review"]
    assert conflicts == [review.NOT_PENDING_RESUBMIT] * 4
    assert count(AuditLog, action="kinship.resubmitted") == 1


def test_approve_racing_a_resubmission_never_approves_unseen_material(pg_app):
    """A reviewer deciding on the page's version while the material changes is refused."""
    user, child = jiangsu_family(factories)
    binding = submit(user.person, child)
    reviewer = factories.staff(role="reviewer")
    seen = binding.version
    review.reject(binding.public_id, reviewer, "unclear", "", Actor(user=reviewer))
    review.resubmit(user.person, binding.public_id, kf.material(user.person), Actor(label="t"))
    with pytest.raises(Conflict) as info:
        review.approve(binding.public_id, reviewer, Actor(user=reviewer), expected_version=seen)
    assert info.value.message == review.CHANGED
