"""The 亲情账户 binding states: the enum, its CHECK constraint, the transition table (every row,
and what it refuses), the notices each row sends, and that status words live only in states.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint

from webapp.domain import Conflict, Forbidden
from webapp.invitations.states import InvitationOutcome, InvitationStatus
from webapp.kinship import notices
from webapp.kinship.states import (
    AWAITING_SELF,
    HOLDER,
    MEMBER,
    OPEN,
    REVIEWER,
    SYSTEM,
    TRANSITIONS,
    BindingStatus,
)
from webapp.models import KinshipBinding
from webapp.states import status_check

S = BindingStatus
ROLES = (HOLDER, MEMBER, REVIEWER, SYSTEM)

# The table as DESIGN.md describes it: (from, event) → (to, who may).
EXPECTED = {
    (S.PENDING_CONFIRM, "accept"): (S.ACTIVE, {MEMBER}),
    (S.PENDING_CONFIRM, "decline"): (S.DECLINED, {MEMBER}),
    (S.PENDING_CONFIRM, "withdraw"): (S.ENDED, {HOLDER, SYSTEM}),
    (S.PENDING_CONFIRM, "expire"): (S.EXPIRED, {SYSTEM}),
    (S.PENDING_CONFIRM, "resend"): (S.PENDING_CONFIRM, {HOLDER}),
    (S.PENDING_REVIEW, "approve"): (S.ACTIVE, {REVIEWER}),
    (S.PENDING_REVIEW, "reject"): (S.REJECTED, {REVIEWER}),
    (S.PENDING_REVIEW, "withdraw"): (S.ENDED, {HOLDER, SYSTEM}),
    (S.PENDING_REVIEW, "refuse_review"): (S.ENDED, {MEMBER}),
    (S.REJECTED, "resubmit"): (S.PENDING_REVIEW, {HOLDER}),
    (S.ACTIVE, "end"): (S.ENDED, {HOLDER, MEMBER, SYSTEM}),
    (S.ACTIVE, "ask_self_confirm"): (S.ACTIVE, {SYSTEM}),
    (S.ACTIVE, "self_confirm"): (S.ACTIVE, {MEMBER}),
    (S.ACTIVE, "refuse_self_confirm"): (S.ENDED, {MEMBER}),
    (S.ACTIVE, "lapse"): (S.ENDED, {SYSTEM}),
    (S.ACTIVE, "resend"): (S.ACTIVE, {HOLDER}),
}
EVENTS = sorted({event for _, event in EXPECTED})


def test_members_are_the_stored_strings_with_label_and_pill():
    assert S.values() == ("pending_confirm", "pending_review", "active", "declined", "expired",
                          "rejected", "ended")
    assert S.labels() == {"pending_confirm": "待确认", "pending_review": "待审核",
                          "active": "已绑定", "declined": "已拒绝", "expired": "已过期",
                          "rejected": "未通过", "ended": "已解除"}
    # The pills the family pages always showed.
    assert {s.value: s.kind for s in S} == {
        "active": "ok", "pending_confirm": "wait", "pending_review": "wait", "declined": "bad",
        "rejected": "bad", "expired": "off", "ended": "off"}
    assert (AWAITING_SELF.label, AWAITING_SELF.kind) == ("待本人确认", "wait")
    assert OPEN == {S.PENDING_CONFIRM, S.PENDING_REVIEW, S.ACTIVE}
    assert S.ACTIVE == "active" and S("ended") is S.ENDED


def test_the_check_constraint_is_generated_from_the_enum():
    checks = [c for c in KinshipBinding.__table__.constraints
              if isinstance(c, CheckConstraint) and "status in" in str(c.sqltext)]
    assert len(checks) == 1
    check = checks[0]
    assert str(check.sqltext) == str(status_check(BindingStatus).sqltext)
    assert tuple(re.findall(r"'([a-z_]+)'", str(check.sqltext))) == S.values()
    # Same text and name as the hand-written constraint it replaced: the schema is unchanged.
    assert str(check.sqltext) == ("status in ('pending_confirm','pending_review','active',"
                                  "'declined','expired','rejected','ended')")
    assert check.name.endswith("status")


def test_the_status_column_loads_enum_members(app, factory):
    from tests import lifecycle_factories as lf
    from webapp.extensions import db

    holder, child = factory.person(name="张建国", age=40), factory.person(name="张小明", age=8)
    b = lf.binding(holder, child)
    db.session.expire_all()
    loaded = db.session.get(KinshipBinding, b.id)
    assert loaded.status is S.ACTIVE and loaded.shown is S.ACTIVE


def test_the_table_is_exactly_the_designed_one():
    table = {(row.source, row.event): (row.target, set(row.who)) for row in TRANSITIONS}
    assert table == EXPECTED


@pytest.mark.parametrize(("source", "event"), sorted(EXPECTED, key=str))
def test_every_allowed_transition_steps_for_its_roles_only(source, event):
    target, who = EXPECTED[(source, event)]
    for role in ROLES:
        if role in who:
            assert TRANSITIONS.step(source, event, role).target is target
        else:
            with pytest.raises(Forbidden):
                TRANSITIONS.step(source, event, role)


def test_everything_else_is_refused():
    refused = 0
    for state in S:
        for event in EVENTS:
            if (state, event) in EXPECTED:
                continue
            with pytest.raises(Conflict, match="该绑定已结束"):
                TRANSITIONS.step(state, event, HOLDER)
            assert not TRANSITIONS.allowed(state, event)
            refused += 1
    assert refused == len(S) * len(EVENTS) - len(EXPECTED)
    # Closed bindings allow nothing at all.
    for closed in (S.DECLINED, S.EXPIRED, S.ENDED):
        assert TRANSITIONS.events_from(closed) == set()


def test_every_notified_event_has_its_notice_for_each_side():
    for row in TRANSITIONS:
        for key in row.notify:
            for role in row.who:
                notice = notices.notice_for(key, role)
                assert notice.holder[0] and notice.member[0], (key, role)
    for state in (S.ACTIVE, S.PENDING_REVIEW, S.PENDING_CONFIRM):
        assert notices.notice_for("created", state.value)


# --- status words only in the enums --------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent / "webapp"
AREA = ("kinship", "invitations", "blueprints/family", "blueprints/invite", "templates/family",
        "templates/invite")
WORDS = {*S.values(), *InvitationStatus.values(), *InvitationOutcome.values()}
LITERAL = re.compile(r"""(['"])(""" + "|".join(sorted(WORDS)) + r""")\1""")


def test_no_status_literal_outside_states_py():
    """'active', "pending_review", 'used' … appear only in the states modules (Python and
    templates of the 亲情账户 and invitation aggregates compare with the enums)."""
    found = []
    for area in AREA:
        for path in sorted((ROOT / area).rglob("*")):
            if path.suffix not in (".py", ".html") or path.name == "states.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if LITERAL.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_literal_check_would_catch_one():
    assert LITERAL.search("if b.status == 'active':")
    assert LITERAL.search('{% if inv.outcome == "accepted" %}')
    assert not LITERAL.search("BindingStatus.ACTIVE")
