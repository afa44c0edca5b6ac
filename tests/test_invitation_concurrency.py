"""On PostgreSQL: concurrent answers to one invitation give exactly one outcome."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests import factories
from tests import kinship_factories as kf
from tests import lifecycle_factories as lf
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.kinship import lifecycle as kinship_lifecycle
from webapp.models import AuditLog, Invitation, KinshipBinding, Message, User

pytestmark = pytest.mark.postgres
THREADS = 10


def setup_invitation():
    holder = factories.user(name="张建伟", age=40)
    mother = factories.user(name="张秀英", age=65, male=False)
    binding, inv, token = lf.invited(holder.person, mother.person, "parent")
    kf.face_pass(mother.person, purpose="kinship_accept", count=THREADS)
    return holder, mother, binding, inv, token


def race(app, jobs):
    """Run each job in its own thread with its own app context (and session), all at once."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        with app.app_context():
            try:
                barrier.wait()
                job()
                return "ok"
            except DomainError as err:
                db.session.rollback()
                return err.code
            finally:
                db.session.remove()

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def count(model, **filters) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**filters))


def test_ten_concurrent_acceptances_give_exactly_one(pg_app):
    holder, mother, binding, inv, token = setup_invitation()
    mother_id = mother.id

    def accept():
        user = db.session.get(User, mother_id)
        invitations.accept(token, user, Actor(user=user, ip="127.0.0.1"))

    results = race(pg_app, [accept] * THREADS)
    assert results.count("ok") == 1, results
    assert set(results) <= {"ok", "used"}, results
    db.session.expire_all()
    b = db.session.get(KinshipBinding, binding.id)
    assert b.status == "active" and b.version == 2  # changed exactly once
    i = db.session.get(Invitation, inv.id)
    assert i.outcome == "accepted" and i.used_at is not None
    assert count(AuditLog, action="kinship.accepted") == 1
    assert count(Message, recipient_person_id=holder.person.id) == 1
    assert count(Message, recipient_person_id=mother.person.id) == 1


def test_accepts_and_declines_racing_give_one_outcome(pg_app):
    holder, mother, binding, inv, token = setup_invitation()
    mother_id = mother.id

    def answer(fn):
        def job():
            user = db.session.get(User, mother_id)
            fn(token, user, Actor(user=user))
        return job

    jobs = [answer(invitations.accept), answer(invitations.decline)] * (THREADS // 2)
    results = race(pg_app, jobs)
    assert results.count("ok") == 1, results
    db.session.expire_all()
    b = db.session.get(KinshipBinding, binding.id)
    outcome = db.session.get(Invitation, inv.id).outcome
    assert (outcome, b.status) in {("accepted", "active"), ("declined", "declined")}
    assert count(AuditLog, action="kinship.accepted") + count(AuditLog,
                                                              action="kinship.declined") == 1


def test_holder_withdrawing_while_the_relative_accepts(pg_app):
    holder, mother, binding, inv, token = setup_invitation()
    mother_id, holder_id, binding_id = mother.id, holder.id, binding.id

    def accept():
        user = db.session.get(User, mother_id)
        invitations.accept(token, user, Actor(user=user))

    def withdraw():
        user = db.session.get(User, holder_id)
        kinship_lifecycle.end_binding(db.session.get(KinshipBinding, binding_id), "holder",
                                      Actor(user=user), expect="pending_confirm")

    results = race(pg_app, [accept, withdraw] * 3)
    assert results.count("ok") == 1, results
    db.session.expire_all()
    b = db.session.get(KinshipBinding, binding.id)
    i = db.session.get(Invitation, inv.id)
    # Either she accepted (and withdrawing lost) or he withdrew (and the link was revoked).
    assert (b.status, i.outcome, i.revoked_at is None) in {
        ("active", "accepted", True), ("ended", "", False)}
