"""Invitation states: read from the timestamps (expiry is never written), the transition
table, the refusal table, the housekeeping entry point, and that no GET page writes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests import lifecycle_factories as lf
from webapp import clock
from webapp.extensions import db
from webapp.invitations import notices
from webapp.invitations import services as invitations
from webapp.invitations.states import (
    INVITEE,
    INVITER,
    SYSTEM,
    TRANSITIONS,
    InvitationOutcome,
    InvitationStatus,
)
from webapp.models import Invitation, KinshipBinding

T0 = datetime(2026, 3, 10, 2, 0)
V = InvitationStatus

EXPECTED = {
    (V.OPEN, "accept"): (V.USED, {INVITEE}),
    (V.OPEN, "decline"): (V.USED, {INVITEE}),
    (V.OPEN, "revoke"): (V.REVOKED, {INVITER, SYSTEM}),
    (V.OPEN, "resend"): (V.REVOKED, {INVITER}),
    (V.OPEN, "expire"): (V.EXPIRED, {SYSTEM}),
    (V.EXPIRED, "revoke"): (V.REVOKED, {INVITER, SYSTEM}),
    (V.EXPIRED, "resend"): (V.REVOKED, {INVITER}),
}


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def family(factory):
    """张建伟 invited his mother 张秀英 (both with accounts) at T0; the clock stays frozen."""
    clock.freeze(T0)
    holder = factory.user(name="张建伟", age=40)
    mother = factory.user(name="张秀英", age=65, male=False)
    b, inv, token = lf.invited(holder.person, mother.person, "parent")
    return holder, mother, b, inv, token


def test_the_table_is_exactly_the_designed_one():
    assert {(r.source, r.event): (r.target, set(r.who)) for r in TRANSITIONS} == EXPECTED
    assert InvitationOutcome.values() == ("accepted", "declined")
    assert V.values() == ("open", "used", "revoked", "expired")


@pytest.mark.parametrize(("source", "event"), sorted(EXPECTED, key=str))
def test_every_allowed_transition(source, event):
    target, who = EXPECTED[(source, event)]
    for role in who:
        assert TRANSITIONS.step(source, event, role).target is target
    assert TRANSITIONS.allowed(source, event)


def test_answered_and_revoked_invitations_allow_nothing():
    for state in (V.USED, V.REVOKED):
        assert TRANSITIONS.events_from(state) == set()
    assert not TRANSITIONS.allowed(V.EXPIRED, "accept")
    assert not TRANSITIONS.allowed(V.OPEN, "accept", INVITER)


def test_the_state_is_read_from_the_row(family):
    holder, mother, b, inv, token = family
    assert inv.status is V.OPEN and invitations.is_open(inv)
    assert inv.status_at(T0 + timedelta(hours=72)) is V.EXPIRED
    clock.freeze(T0 + timedelta(hours=72))
    assert inv.status is V.EXPIRED and invitations.state(inv) is V.EXPIRED
    assert db.session.get(Invitation, inv.id).used_at is None  # nothing was written


def test_every_refusal_code_has_a_title_and_message():
    for code in ("unknown", "target_gone", "wrong_person", "staff", "face_required",
                 "not_inviter", V.EXPIRED, V.USED, V.REVOKED):
        refusal = notices.refusal(code)
        assert refusal.title and refusal.message
    assert notices.refusal("nonsense") is notices.REFUSALS["unknown"]
    expired = notices.refusal(V.EXPIRED)
    assert expired.hint_for(None) == "" and "张*伟" in expired.hint_for("张*伟")


# --- no GET writes ------------------------------------------------------------------------

def test_an_expired_invitation_page_shows_expired_and_changes_nothing(client, family):
    holder, mother, b, inv, token = family
    clock.freeze(T0 + timedelta(hours=72, minutes=1))
    before = lf.snapshot()
    anonymous = client.get(f"/i/{token}")
    assert anonymous.status_code == 410 and "邀请已过期" in html(anonymous)
    lf.login(client, mother)
    for url in (f"/i/{token}", f"/i/r/{inv.public_id}"):
        page = client.get(url)
        assert page.status_code == 410 and "邀请已过期" in html(page), url
    assert "目前没有人绑定您" in html(client.get("/family/bound-me"))
    lf.login(client, holder)
    assert "已过期" in html(client.get("/family/"))
    assert "已过期" in html(client.get(f"/family/members/{b.public_id}"))
    assert lf.snapshot() == before
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "pending_confirm"


def test_housekeeping_asks_every_flow_and_runs_once(family):
    holder, mother, b, inv, token = family
    assert invitations.expire_due(T0 + timedelta(hours=71))["kinship"] == 0
    clock.freeze(T0 + timedelta(hours=73))
    done = invitations.expire_due()
    assert done["kinship"] == 1 and set(done) == set(invitations.HANDLERS)
    db.session.expire_all()
    assert db.session.get(KinshipBinding, b.id).status == "expired"
    assert lf.titles(holder.person) == ["邀请已过期"]
    assert invitations.expire_due()["kinship"] == 0


def test_open_for_targets_is_open_for_in_one_query(family, factory):
    holder, mother, b, inv, token = family
    father = factory.person(name="张国强", age=67)
    b2, inv2, _ = lf.invited(holder.person, father, "parent")
    invitations.revoke(inv2, None, lf.ACTOR)
    db.session.commit()
    found = invitations.open_for_targets("kinship", [b.id, b2.id, 999])
    assert found == {b.id: [inv]}
    assert found[b.id] == invitations.open_for("kinship", b.id)
    assert invitations.open_for_targets("kinship", []) == {}
