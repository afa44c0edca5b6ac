"""家庭共济 under concurrency (PostgreSQL): the group limits hold for concurrent invitations
and acceptances, and concurrent payments by several members never overdraw the owner."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests import helpers
from tests import kinship_factories as kf
from tests.test_aid_rules import HAINAN, accept, add, make_owner, open_group
from tests.test_codes import issue
from tests.test_settlement import assert_ledger_matches_balances
from webapp.aid import rules
from webapp.aid import services as aid
from webapp.audit.services import Actor
from webapp.codes import settlement
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.models import AidGroup, AidMember, InsuredPerson, LedgerEntry, Pharmacy, Settlement

pytestmark = pytest.mark.postgres


def open_count(group_id: int) -> int:
    return db.session.scalar(select(func.count(AidMember.id)).where(
        AidMember.group_id == group_id, AidMember.status.in_(("pending_confirm", "active"))))


def test_concurrent_additions_never_exceed_8(pg_app):
    """6 members exist; 12 threads add 12 different relatives (children join at once, adults
    are invited) at the same moment → exactly 2 succeed, the rest hit the limit."""
    from tests import factories

    owner = make_owner(factories)
    group = open_group(owner)
    for i in range(6):
        add(owner.person, factories.person(name=f"王大{i}", age=3 + i), "child")
    people = [factories.person(name=f"王{i}", age=1 + i * 2) for i in range(12)]
    owner_id, ids, group_id = owner.person.id, [p.id for p in people], group.id
    db.session.remove()

    def work(i: int):
        owner_p = db.session.get(InsuredPerson, owner_id)
        person = db.session.get(InsuredPerson, ids[i])
        return aid.add_member(owner_p, "child", Actor(label=f"t{i}"), name=person.name,
                              id_number=person.id_number).member.status

    results = helpers.run_concurrently(pg_app, 12, work)
    ok = [r for r in results if r in ("active", "pending_confirm")]
    assert len(ok) == 2, results
    assert results.count("max_members") == 10, results
    assert open_count(group_id) == 8


def test_concurrent_hainan_children_never_exceed_3(pg_app):
    from tests import factories

    owner = make_owner(factories, region=HAINAN)
    group = open_group(owner)
    kids = [factories.person(name=f"王{i}", age=2 + i, region=HAINAN) for i in range(8)]
    owner_id, ids, group_id = owner.person.id, [k.id for k in kids], group.id
    db.session.remove()

    def work(i: int):
        person = db.session.get(InsuredPerson, ids[i])
        return aid.add_member(db.session.get(InsuredPerson, owner_id), "child",
                              Actor(label=f"t{i}"), name=person.name,
                              id_number=person.id_number).member.status

    results = helpers.run_concurrently(pg_app, 8, work)
    assert results.count("active") == 3 and results.count("max_children") == 5, results
    assert open_count(group_id) == 3


def test_same_relative_added_twice_at_once_gives_one_membership(pg_app):
    from tests import factories

    owner = make_owner(factories)
    open_group(owner)
    child = factories.person(name="王小明", age=8)
    owner_id, child_id = owner.person.id, child.id
    db.session.remove()

    def work(i: int):
        person = db.session.get(InsuredPerson, child_id)
        return aid.add_member(db.session.get(InsuredPerson, owner_id), "child",
                              Actor(label=f"t{i}"), name=person.name,
                              id_number=person.id_number).member.status

    results = helpers.run_concurrently(pg_app, 8, work)
    assert results.count("active") == 1 and results.count("duplicate") == 7, results


def test_concurrent_acceptances_keep_the_limit_and_answer_once(pg_app):
    """8 pending invitations; each invitee accepts from two phones at once → 8 active, no
    more; each invitation answered exactly once; then a 9th invitation is refused."""
    from tests import factories

    owner = make_owner(factories)
    group = open_group(owner)
    adults = [factories.person(name=f"王{i}", age=20 + i) for i in range(8)]
    invs = []
    for person in adults:
        added = add(owner.person, person, "sibling")
        kf.face_pass(person, rules.ACCEPT_PURPOSE, count=2)
        invs.append(invitations.latest_for("aid", added.member.id).id)
    group_id, owner_id = group.id, owner.person.id
    db.session.remove()

    def work(i: int):
        from webapp.models import Invitation

        inv = db.session.get(Invitation, invs[i % 8])
        person = db.session.get(InsuredPerson, inv.invitee_person_id)
        invitations.accept(inv, person, Actor(label=f"t{i}"))
        return "accepted"

    results = helpers.run_concurrently(pg_app, 16, work)
    assert results.count("accepted") == 8, results
    assert all(r in ("accepted", "used") for r in results), results
    active = db.session.scalar(select(func.count(AidMember.id)).where(
        AidMember.group_id == group_id, AidMember.status == "active"))
    assert active == 8 and open_count(group_id) == 8
    with pytest.raises(DomainError) as info:
        add(db.session.get(InsuredPerson, owner_id), factories.person(name="王九", age=9))
    assert info.value.message == "家庭共济成员已达上限（8人）"


def test_concurrent_group_creation_gives_one_group(pg_app):
    from tests import factories

    owner = make_owner(factories)
    kf.face_pass(owner.person, rules.CREATE_PURPOSE, count=8)
    owner_id = owner.person.id
    db.session.remove()

    def work(i: int):
        return aid.create_group(db.session.get(InsuredPerson, owner_id), True,
                                Actor(label=f"t{i}")).public_id

    results = helpers.run_concurrently(pg_app, 8, work)
    assert results.count("exists") == 7, results
    assert db.session.scalar(select(func.count(AidGroup.id))) == 1


def test_concurrent_payments_by_members_never_overdraw_the_owner(pg_app):
    """Owner balance ¥100.00; 8 members (own balance ¥1.00 each) pay ¥23.50 three times each,
    all at once → the owner pays exactly ¥100.00 in total, never below 0, the members' own
    accounts pay first, the rest is cash, and every ledger sums to its balance."""
    from tests import factories

    owner = make_owner(factories, balance_fen=10000)
    open_group(owner)
    members = []
    for i in range(8):
        user = factories.user(name=f"王{i}", age=20 + i, balance_fen=100)
        accept(add(owner.person, user.person, "sibling").member)
        members.append(user)
    pharmacy = factories.pharmacy()
    staff = factories.staff(pharmacy_obj=pharmacy)
    tokens = [settlement.verify(issue(members[i % 8]).code, pharmacy, Actor(user=staff)).token
              for i in range(24)]
    pharmacy_id, owner_id = pharmacy.id, owner.person.id
    db.session.remove()

    def work(i: int):
        shop = db.session.get(Pharmacy, pharmacy_id)
        s = settlement.settle(tokens[i], shop, Actor(label=f"t{i}"), 2350, "药")
        return (s.account_fen, s.aid_fen, s.cash_fen)

    results = helpers.run_concurrently(pg_app, 24, work)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(r[1] for r in results) == 10000
    assert sum(r[0] for r in results) == 800
    assert all(sum(r) == 2350 for r in results)
    owner_p = db.session.get(InsuredPerson, owner_id)
    assert owner_p.account.balance_fen == 0
    aid_rows = db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.kind == "aid_payment")).all()
    assert sum(-e.amount_fen for e in aid_rows) == 10000
    assert all(e.balance_after_fen >= 0 for e in aid_rows)
    assert db.session.scalar(select(func.sum(Settlement.aid_fen))) == 10000
    assert_ledger_matches_balances()
