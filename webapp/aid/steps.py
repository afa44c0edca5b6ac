"""家庭共济 locking and stepping: every membership change locks the group row, re-reads the
member, looks its step up in ``webapp.aid.states`` and applies it with its audit row and
notices. Used by the commands (``services``) and the invitation handler (``invitation``),
which also runs ``expire_invitations`` for the housekeeping sweep.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from webapp import clock
from webapp.aid.notices import refuse, tell
from webapp.aid.queries import open_invitations, shown_status
from webapp.aid.rules import window_text
from webapp.aid.states import (
    GROUP_TRANSITIONS,
    MEMBER_TRANSITIONS,
    OPEN_STATES,
    OWNER,
    SYSTEM,
    AidMemberStatus,
)
from webapp.audit import services as audit
from webapp.audit.services import SYSTEM as SYSTEM_ACTOR
from webapp.audit.services import Actor
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.models import AidGroup, AidMember, InsuredPerson
from webapp.states import Transition

# The audit action of a step, by the state it ends in (a step that stays: by its event).
AUDIT_ACTIONS = {
    AidMemberStatus.ACTIVE: "aid.member_joined",
    AidMemberStatus.DECLINED: "aid.member_declined",
    AidMemberStatus.EXPIRED: "aid.member_expired",
    AidMemberStatus.REMOVED: "aid.member_removed",
    AidMemberStatus.LEFT: "aid.member_left",
    "change_window": "aid.window_changed",
}


def lock_group(owner: InsuredPerson, role: str = OWNER) -> AidGroup:
    """The owner's group, row-locked for the rest of the transaction; its members may change
    only while it is 已开通 (NotFound / Conflict)."""
    group = db.session.scalar(
        select(AidGroup).where(AidGroup.owner_person_id == owner.id)
        .with_for_update().execution_options(populate_existing=True)
    )
    if group is None:
        raise refuse("no_group", error=NotFound)
    GROUP_TRANSITIONS.step(group.status, "change_members", role)
    return group


def lock_member(member: AidMember, role: str) -> tuple[AidGroup, AidMember]:
    """Lock the member's group, then re-read the member (what committed while we waited)."""
    group = lock_group(member.group.owner, role)
    fresh = db.session.scalar(
        select(AidMember).where(AidMember.id == member.id)
        .execution_options(populate_existing=True)
    )
    if fresh is None:
        raise refuse("member_not_found", error=NotFound)
    return group, fresh


def current_status(member: AidMember) -> AidMemberStatus:
    """The member's state now: a 待确认 one whose invitation can't be answered is 已过期."""
    if member.status != AidMemberStatus.PENDING_CONFIRM:
        return AidMemberStatus(member.status)
    return shown_status(member, open_invitations([member.id]).get(member.id))


def step(member: AidMember, event: str, role: str, actor: Actor, owner: InsuredPerson,
         state: AidMemberStatus | None = None, detail: dict | None = None,
         **words: Any) -> Transition:
    """Apply one transition to a locked member: state, dates, audit row, notices (no commit)."""
    row = MEMBER_TRANSITIONS.step(state or member.status, event, role)
    was, now = member.status, clock.now()
    member.status = AidMemberStatus(row.target)
    if row.target not in OPEN_STATES:
        member.ended_at, member.ended_by = now, role
    elif row.source != row.target:
        member.joined_at = now
    action = AUDIT_ACTIONS[row.target if row.source != row.target else event]
    audit.record(action, actor, target=member, person=member.person,
                 detail={"from": str(was), **(detail or {})})
    for notice in row.notify:
        tell(notice, owner, member, limits=window_text(member), **words)
    return row


# --- expiring unanswered invitations ------------------------------------------------------

def expire_stale(group: AidGroup, actor: Actor = SYSTEM_ACTOR,
                 now: datetime | None = None) -> int:
    """Mark the group's 待确认 members whose invitations can no longer be answered 已过期
    (the group locked by the caller; no commit). Returns how many."""
    pending = list(db.session.scalars(
        select(AidMember).where(AidMember.group_id == group.id,
                                AidMember.status == AidMemberStatus.PENDING_CONFIRM)))
    live = open_invitations((m.id for m in pending), now)
    stale = [m for m in pending if m.id not in live]
    for member in stale:
        step(member, "expire", SYSTEM, actor, group.owner)
    return len(stale)


def expire_invitations(now: datetime | None = None) -> int:
    """Housekeeping (``invitations.expire_due`` → the aid handler): record every 待确认
    membership whose invitation can no longer be answered as 已过期, both sides told; commits
    per group. Returns how many."""
    now = now or clock.now()
    pending = db.session.execute(
        select(AidMember.id, AidMember.group_id)
        .where(AidMember.status == AidMemberStatus.PENDING_CONFIRM)).all()
    live = open_invitations((member_id for member_id, _ in pending), now)
    groups = sorted({group_id for member_id, group_id in pending if member_id not in live})
    count = 0
    owners = db.session.scalars(
        select(InsuredPerson).join(AidGroup, AidGroup.owner_person_id == InsuredPerson.id)
        .where(AidGroup.id.in_(groups)).order_by(AidGroup.id)).all()
    for owner in owners:
        try:
            count += expire_stale(lock_group(owner, SYSTEM), SYSTEM_ACTOR, now)
            db.session.commit()
        except DomainError:  # the group was closed meanwhile: its members no longer change
            db.session.rollback()
    return count

