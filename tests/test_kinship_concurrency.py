"""Limits hold under concurrent completions on PostgreSQL (row locks on both people)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import factories, helpers
from tests import kinship_factories as kf
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.kinship import services as kinship
from webapp.kinship.states import OPEN
from webapp.models import CommitmentLetter, InsuredPerson, KinshipBinding, KinshipMaterial

pytestmark = pytest.mark.postgres
THREADS = 10


def run_concurrently(app, jobs):
    """Complete each job (holder_id, member_id, material_id) in its own thread, app context
    and session, all released at once; return the DomainError messages."""
    signature = kf.signature_data_url()

    def work(i: int) -> None:
        holder_id, member_id, material_id = jobs[i]
        holder = db.session.get(InsuredPerson, holder_id)
        member = db.session.get(InsuredPerson, member_id)
        material = db.session.get(KinshipMaterial, material_id)
        kinship.complete_binding(holder, member.name, member.id_number, "child",
                                 material, holder.name, signature, Actor(label="t"))

    results = helpers.run_concurrently(app, len(jobs), work,
                                       refused=lambda err: ("refused", err.message), timeout=60)
    unexpected = [r for r in results if r is not None and not isinstance(r, tuple)]
    assert not unexpected, unexpected
    return [r[1] for r in results if isinstance(r, tuple)]


def open_bindings(**where) -> int:
    return db.session.scalar(
        select(func.count(KinshipBinding.id))
        .filter_by(**where)
        .where(KinshipBinding.status.in_(OPEN))
    )


def test_ten_concurrent_completions_end_with_exactly_five(pg_app):
    """A holder with 4 members; 10 children completed at once → exactly one more."""
    holder = factories.person(name="李华", age=45)
    for i in range(4):
        kf.binding(holder, factories.person(name=f"旧成员{i}", age=10 + i))
    kf.face_pass(holder, count=THREADS)
    jobs = []
    for i in range(THREADS):
        child = factories.person(name=f"新成员{i}", age=2 + i % 8)
        jobs.append((holder.id, child.id, kf.material(holder).id))
    errors = run_concurrently(pg_app, jobs)
    db.session.expire_all()
    assert open_bindings(holder_person_id=holder.id) == 5
    assert len(errors) == THREADS - 1
    assert set(errors) == {"您最多可添加5名家庭成员（含待确认、待审核），当前已添加5名"}
    assert db.session.scalar(select(func.count(CommitmentLetter.id))) == 1


def test_ten_holders_binding_one_child_at_once_end_with_two(pg_app):
    """The per-month limit of distinct holders holds under concurrency."""
    child = factories.person(name="李小明", age=6)
    jobs = []
    for i in range(THREADS):
        holder = factories.person(name=f"家长{i}", age=30 + i)
        kf.face_pass(holder)
        jobs.append((holder.id, child.id, kf.material(holder).id))
    errors = run_concurrently(pg_app, jobs)
    db.session.expire_all()
    assert open_bindings(member_person_id=child.id) == 2
    assert set(errors) == {"该家庭成员本月已被2人添加，请下月再试"}


def test_same_child_ten_times_at_once_is_bound_once(pg_app):
    """Duplicate completions (double submit, two tabs) leave one binding."""
    holder = factories.person(name="李华", age=40)
    child = factories.person(name="李小明", age=6)
    kf.face_pass(holder, count=THREADS)
    jobs = [(holder.id, child.id, kf.material(holder).id) for _ in range(THREADS)]
    errors = run_concurrently(pg_app, jobs)
    db.session.expire_all()
    assert open_bindings(holder_person_id=holder.id) == 1
    assert set(errors) == {"该家庭成员已添加，请勿重复添加"}
