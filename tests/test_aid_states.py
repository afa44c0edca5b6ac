"""家庭共济 states as types: every row of the membership transition table driven through the
services, refused steps, the one "group is full" rule at the policy's edge, read-time expiry
without writes on GET, batched lists, and no status literal outside webapp/aid/states.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.test_aid_rules import accept, add, audit_count, inbox, make_owner, open_group
from tests.test_codes import login
from tests.test_query_counts import statements
from webapp import clock
from webapp.aid import queries, rules, steps
from webapp.aid import services as aid
from webapp.aid.notices import NOTICES
from webapp.aid.states import (
    GROUP_TRANSITIONS,
    MEMBER,
    MEMBER_TRANSITIONS,
    OWNER,
    SYSTEM,
    AidGroupStatus,
    AidMemberStatus,
)
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, Forbidden
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.models import AidGroup, AidMember, AuditLog
from webapp.policy import policy_for

ROOT = Path(__file__).resolve().parent.parent
JIANGSU = "320102"
P, A = AidMemberStatus.PENDING_CONFIRM, AidMemberStatus.ACTIVE


# ---- the enums -----------------------------------------------------------------------------

def test_states_carry_label_and_pill_and_equal_their_stored_strings():
    assert (P.label, P.kind) == ("待确认", "wait")
    assert (A.label, A.kind) == ("已生效", "ok")
    assert AidMemberStatus.DECLINED.kind == "bad"
    assert {s.kind for s in (AidMemberStatus.EXPIRED, AidMemberStatus.REMOVED,
                             AidMemberStatus.LEFT)} == {"off"}
    assert AidMemberStatus.ACTIVE == "active" and AidGroupStatus.CLOSED == "closed"
    assert AidGroupStatus.ACTIVE.label == "已开通" and AidGroupStatus.CLOSED.label == "已关闭"


def test_check_constraints_come_from_the_enums(app):
    """The CHECKs keep their names and list exactly the enums' values; a stray value fails."""
    for model, enum in ((AidGroup, AidGroupStatus), (AidMember, AidMemberStatus)):
        checks = {c.name: str(c.sqltext) for c in model.__table__.constraints
                  if c.__class__.__name__ == "CheckConstraint"}
        status = next(text for name, text in checks.items() if name.endswith("status"))
        assert sorted(re.findall(r"'(\w+)'", status)) == sorted(enum.values())


def test_loaded_rows_are_enum_members(app, factory):
    user = make_owner(factory)
    group = open_group(user)
    member = add(user.person, factory.person(name="王小明", age=8), "child").member
    db.session.expire_all()
    assert isinstance(db.session.get(AidGroup, group.id).status, AidGroupStatus)
    assert db.session.get(AidMember, member.id).status is AidMemberStatus.ACTIVE


def test_every_notice_a_row_names_is_in_the_notice_table():
    for row in MEMBER_TRANSITIONS:
        for event in row.notify:
            assert event in NOTICES, (row, event)


# ---- every row of the membership table through the services ------------------------------

def _pending(factory, region: str = "360102"):
    """An owner and a 待确认 adult relative (with a user account to answer)."""
    owner = make_owner(factory, region=region)
    open_group(owner)
    mother = factory.user(name="李秀英", age=62, male=False, region=region)
    added = add(owner.person, mother.person, "parent")
    return owner, mother, added


def _active(factory, region: str = "360102"):
    owner, mother, added = _pending(factory, region)
    return owner, mother, accept(added.member, mother)


def _drive_accept(factory):
    owner, mother, added = _pending(factory)
    return owner, mother, accept(added.member, mother)


def _drive_decline(factory):
    owner, mother, added = _pending(factory)
    invitations.decline(invitations.load(added.token), mother.person, Actor(user=mother))
    return owner, mother, added.member


def _drive_leave_pending(factory):
    owner, mother, added = _pending(factory)
    return owner, mother, aid.leave(mother.person, added.member, Actor(user=mother))


def _drive_remove_pending(factory):
    owner, mother, added = _pending(factory)
    return owner, mother, aid.remove_member(owner.person, added.member, Actor(user=owner))


def _drive_expire(factory):
    owner, mother, added = _pending(factory)
    with clock.frozen_at(clock.now() + timedelta(hours=73)):
        assert steps.expire_invitations() == 1
    return owner, mother, added.member


def _drive_resend(factory):
    owner, mother, added = _pending(factory)
    token = aid.resend(owner.person, added.member, Actor(user=owner))
    assert invitations.load(token).target_id == added.member.id
    return owner, mother, added.member


def _window(owner, member):
    today = clock.today()
    return aid.set_window(owner.person, member, today, today + timedelta(days=30), 20000,
                          Actor(user=owner))


def _drive_window_pending(factory):
    owner, mother, added = _pending(factory, JIANGSU)
    return owner, mother, _window(owner, added.member)


def _drive_window_active(factory):
    owner, mother, member = _active(factory, JIANGSU)
    return owner, mother, _window(owner, member)


def _drive_remove_active(factory):
    owner, mother, member = _active(factory)
    return owner, mother, aid.remove_member(owner.person, member, Actor(user=owner))


def _drive_leave_active(factory):
    owner, mother, member = _active(factory)
    return owner, mother, aid.leave(mother.person, member, Actor(user=mother))


DRIVERS = {
    (P, "accept"): _drive_accept,
    (P, "decline"): _drive_decline,
    (P, "leave"): _drive_leave_pending,
    (P, "remove"): _drive_remove_pending,
    (P, "expire"): _drive_expire,
    (P, "resend"): _drive_resend,
    (P, "change_window"): _drive_window_pending,
    (A, "change_window"): _drive_window_active,
    (A, "remove"): _drive_remove_active,
    (A, "leave"): _drive_leave_active,
}


def test_every_row_of_the_table_has_a_test():
    assert set(DRIVERS) == {(row.source, row.event) for row in MEMBER_TRANSITIONS}


@pytest.mark.parametrize("row", list(MEMBER_TRANSITIONS),
                         ids=lambda r: f"{r.source.value}-{r.event}")
def test_transition_row(app, factory, row):
    """The service takes the row's step: the row's target state, who ended it, and the row's
    notice to each side it names."""
    owner, mother, member = DRIVERS[(row.source, row.event)](factory)
    db.session.refresh(member)
    assert member.status == row.target
    if row.target != row.source and row.target not in (P, A):
        assert member.ended_at is not None
        assert member.ended_by == next(iter(row.who))
    words = {"who": "李*英", "by": "王*国"}
    for event in row.notify:
        to_owner, to_member = NOTICES[event]
        if to_owner is not None:
            assert to_owner.title.format(**words) in inbox(owner.person), event
        if to_member is not None:
            assert to_member.title.format(**words) in inbox(mother.person), event


def test_transition_rows_write_their_audit_action(app, factory):
    _drive_remove_active(factory)
    _drive_leave_active(factory)
    assert audit_count("aid.member_removed") == 1 and audit_count("aid.member_left") == 1
    detail = db.session.scalar(select(AuditLog.detail)
                               .where(AuditLog.action == "aid.member_left"))
    assert json.loads(detail)["from"] == "active"


# ---- refused steps -------------------------------------------------------------------------

def test_a_step_the_table_lacks_is_refused(app, factory):
    owner, mother, member = _drive_remove_active(factory)
    with pytest.raises(Conflict) as info:
        aid.leave(mother.person, member, Actor(user=mother))
    db.session.rollback()
    assert info.value.message == "该共济关系已结束，无需再操作"
    with pytest.raises(Conflict):
        MEMBER_TRANSITIONS.step(AidMemberStatus.REMOVED, "accept", MEMBER)


def test_a_step_by_the_wrong_side_is_forbidden():
    with pytest.raises(Forbidden):
        MEMBER_TRANSITIONS.step(A, "remove", MEMBER)
    with pytest.raises(Forbidden):
        MEMBER_TRANSITIONS.step(P, "accept", OWNER)
    with pytest.raises(Forbidden):
        MEMBER_TRANSITIONS.step(P, "expire", OWNER)
    assert MEMBER_TRANSITIONS.allowed(P, "expire", SYSTEM)


def test_a_closed_group_refuses_every_change(app, factory):
    owner, mother, member = _active(factory)
    group = queries.group_of(owner.person)
    group.status = AidGroupStatus.CLOSED
    db.session.commit()
    with pytest.raises(Conflict) as info:
        aid.remove_member(owner.person, member, Actor(user=owner))
    db.session.rollback()
    assert info.value.message == "您的家庭共济已关闭"
    with pytest.raises(DomainError):
        add(owner.person, factory.person(name="王小明", age=8), "child")
    db.session.rollback()
    with pytest.raises(Conflict):
        GROUP_TRANSITIONS.step(AidGroupStatus.CLOSED, "change_members", SYSTEM)
    db.session.refresh(member)
    assert member.status == A


# ---- the group is full: one function, at the policy's edge ------------------------------

def test_group_is_full_at_the_policy_max():
    limits = policy_for("360102").aid
    assert limits.max_members == 8
    assert not rules.group_is_full(7, limits)
    assert rules.group_is_full(8, limits)
    assert rules.group_is_full(9, limits)


def test_full_group_everywhere_at_a_policy_files_max(tmp_path):
    """With aid.max_members = 3 from POLICY_FILE: the 3rd member fills the group; the pages say
    so and the service refuses the 4th with the policy's number."""
    from tests import factories
    from tests.conftest import make_app, wipe

    raw = json.loads((ROOT / "webapp" / "policy.json").read_text(encoding="utf-8"))
    raw["default"]["aid"]["max_members"] = 3
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    application = make_app(f"sqlite:///{tmp_path / 'full.sqlite'}", tmp_path,
                           POLICY_FILE=str(path))
    with application.app_context():
        owner = make_owner(factories)
        open_group(owner)
        client = application.test_client()
        login(client, owner)
        for i in range(2):
            add(owner.person, factories.person(name=f"王小{i}", age=3 + i), "child")
        page = client.get("/aid/").get_data(as_text=True)
        assert "共济成员 2/3" in page and "家庭共济成员已达上限" not in page
        add(owner.person, factories.person(name="王小三", age=9), "child")
        page = client.get("/aid/").get_data(as_text=True)
        assert "家庭共济成员已达上限（3人）" in page
        assert "家庭共济成员已达上限（3人）" in client.get("/aid/members/add").get_data(
            as_text=True)
        with pytest.raises(DomainError) as info:
            add(owner.person, factories.person(name="王小四", age=2), "child")
        db.session.rollback()
        assert (info.value.code, info.value.message) == ("max_members",
                                                        "家庭共济成员已达上限（3人）")
    wipe(application)


# ---- housekeeping: no writes on GET; read-time expiry ------------------------------------

def test_pages_show_a_stale_invitation_expired_without_writing(app, client, factory):
    owner, mother, added = _pending(factory)
    with clock.frozen_at(clock.now() + timedelta(hours=73)):
        login(client, owner)
        index = client.get("/aid/").get_data(as_text=True)
        assert "已过期" in index and "共济成员 0/8" in index
        member_page = client.get(f"/aid/members/{added.member.public_id}").get_data(
            as_text=True)
        assert "已过期" in member_page and "撤回邀请" not in member_page
        db.session.expire_all()
        assert db.session.get(AidMember, added.member.id).status == P  # nothing written
        assert audit_count("aid.member_expired") == 0
        assert queries.joined_rows(mother.person) == []
        # withdrawing it now is refused by the table (it reads 已过期)
        with pytest.raises(Conflict):
            aid.remove_member(owner.person, added.member, Actor(user=owner))
        db.session.rollback()
        # the housekeeping sweep (every invitation flow) records it, both sides told
        assert invitations.expire_due()["aid"] == 1
        assert steps.expire_invitations() == 0
    db.session.refresh(added.member)
    assert (added.member.status, added.member.ended_by) == (AidMemberStatus.EXPIRED, "system")
    assert "家庭共济邀请已过期" in inbox(mother.person)


# ---- batched lists -------------------------------------------------------------------------

def test_member_list_with_pending_members_is_batched(app, client, factory):
    """open invitations of pending members load in one query, not one per member."""
    owner = make_owner(factory)
    open_group(owner)
    login(client, owner)

    def invite(n, start):
        for i in range(n):
            add(owner.person, factory.person(name=f"王大{start + i}", age=30 + i), "sibling")

    invite(1, 0)
    client.get("/aid/")  # the first request after logging in also touches the session
    few = statements(client, "/aid/"), statements(client, "/aid/members/add")
    invite(3, 1)
    assert (statements(client, "/aid/"), statements(client, "/aid/members/add")) == few


def test_joined_list_is_batched(app, client, factory):
    """被绑定列表: 今年已用 and the invitations of several groups in a fixed number of queries."""
    member = factory.user(name="王小明", age=30)
    login(client, member)

    def join(n, start):
        for i in range(n):
            owner = make_owner(factory, name=f"王建{start + i}", age=50 + i)
            open_group(owner)
            added = add(owner.person, member.person, "child")
            if i % 2 == 0:
                accept(added.member, member)

    join(2, 0)  # one accepted, one waiting
    client.get("/aid/joined")  # the first request after logging in also touches the session
    few = statements(client, "/aid/joined")
    join(3, 2)
    assert statements(client, "/aid/joined") == few
    assert len(queries.joined_rows(member.person)) == 5


# ---- status literals only in the enum ------------------------------------------------------

AID_FILES = [*sorted((ROOT / "webapp" / "aid").glob("*.py")),
             *sorted((ROOT / "webapp" / "blueprints" / "aid").glob("*.py")),
             *sorted((ROOT / "webapp" / "templates" / "aid").glob("*.html"))]


def test_aid_status_literals_appear_only_in_states_py():
    values = {*AidMemberStatus.values(), *AidGroupStatus.values()}
    literal = re.compile("[\"'](" + "|".join(sorted(values)) + ")[\"']")
    found = {}
    for path in AID_FILES:
        if path.name == "states.py" and path.parent.name == "aid" \
                and path.parent.parent.name == "webapp":
            assert len(set(literal.findall(path.read_text(encoding="utf-8")))) == len(values)
            continue
        hits = literal.findall(path.read_text(encoding="utf-8"))
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert found == {}
    assert len(AID_FILES) > 10


def test_no_sql_in_the_aid_routes():
    text = (ROOT / "webapp" / "blueprints" / "aid" / "routes.py").read_text(encoding="utf-8")
    assert "db.select" not in text and "db.session" not in text and "select(" not in text


def test_aid_modules_stay_short():
    for path in (ROOT / "webapp" / "aid").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name


def test_open_count_is_one_number(app, factory):
    """places_taken, the add page and the service agree on what occupies a place."""
    owner = make_owner(factory)
    group = open_group(owner)
    for i in range(3):
        add(owner.person, factory.person(name=f"王小{i}", age=3 + i), "child")
    add(owner.person, factory.person(name="王大哥", age=40), "sibling")
    assert queries.places_taken(group) == 4
    assert queries.add_page(owner.person).counter == "共济成员 4/8（含待确认）"
    assert db.session.scalar(select(func.count(AidMember.id))
                             .where(AidMember.group_id == group.id)) == 4
