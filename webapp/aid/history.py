"""共济授权记录: every authorisation event of one membership, read from the audit trail.

Each membership command writes an audit row on the ``AidMember`` (``webapp.aid.steps`` and
``services``): added / invited, joined, declined, expired, removed, left, and window changes
(with the old and new window and cap as structured detail since this page exists; older rows
carry the before/after text only, shown as one 修改授权设置 event). A resent invitation is an
audit row on the ``Invitation`` of the membership. Who did it is the audit row's user (the
owner or the member, by name, masked) or 系统. Pages only read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from webapp.aid.queries import my_membership, owner_member
from webapp.aid.states import AidMemberStatus
from webapp.extensions import db
from webapp.masking import mask_name
from webapp.models import AidGroup, AidMember, AuditLog, InsuredPerson, Invitation, User
from webapp.money import yuan
from webapp.policy import relation_label

KIND = "aid"
OWNER_ROLE, MEMBER_ROLE = "共济人", "成员本人"

# audit action → the event in words (removal and window changes are read from the detail)
ACTIONS: dict[str, str] = {
    "aid.member_added": "加入共济（共济人直接添加）",
    "aid.member_invited": "发出共济邀请",
    "aid.member_joined": "加入共济（本人确认）",
    "aid.member_declined": "拒绝共济邀请",
    "aid.member_expired": "共济邀请已过期",
    "aid.member_left": "退出共济",
    "invitation.resent": "重新发送邀请",
}


@dataclass(frozen=True)
class Event:
    """One line of the record: when, what, the detail, and who did it."""

    at: datetime
    what: str
    detail: str
    who: str


@dataclass(frozen=True)
class HistoryPage:
    """The member, the group's owner, the events oldest first, and who is looking."""

    member: AidMember
    relation: str
    owner: InsuredPerson
    events: list[Event]
    for_owner: bool


def owner_history(owner: InsuredPerson, public_id: str) -> HistoryPage:
    """The record of a member of the owner's group (404 for anyone else)."""
    return page(owner_member(owner, public_id), for_owner=True)


def member_history(person: InsuredPerson, public_id: str) -> HistoryPage:
    """The record of the person's own membership (404 for anyone else)."""
    return page(my_membership(person, public_id), for_owner=False)


def past_memberships(person: InsuredPerson) -> list[AidMember]:
    """Groups the person was in and is no longer (退出 or 移出 after joining), newest end
    first, with their owners: the 被绑定列表's 已退出的共济, each linking its record."""
    return list(db.session.scalars(
        select(AidMember).options(selectinload(AidMember.group).selectinload(AidGroup.owner))
        .where(AidMember.person_id == person.id, AidMember.joined_at.is_not(None),
               AidMember.status.in_((AidMemberStatus.LEFT, AidMemberStatus.REMOVED)))
        .order_by(AidMember.ended_at.desc(), AidMember.id.desc())))


def page(member: AidMember, for_owner: bool) -> HistoryPage:
    """The record page model of one membership."""
    owner = member.group.owner
    return HistoryPage(member, relation_label(member.relation), owner,
                       events(member, owner), for_owner)


def audit_rows(member: AidMember) -> list[AuditLog]:
    """The membership's audit rows and its invitations' resends, oldest first."""
    invitations = select(Invitation.public_id).where(Invitation.kind == KIND,
                                                     Invitation.target_id == member.id)
    return list(db.session.scalars(
        select(AuditLog).where(or_(
            and_(AuditLog.target_type == AidMember.__name__,
                 AuditLog.target_id == member.public_id),
            and_(AuditLog.target_type == Invitation.__name__,
                 AuditLog.action == "invitation.resent",
                 AuditLog.target_id.in_(invitations)),
        )).order_by(AuditLog.created_at, AuditLog.id)))


def events(member: AidMember, owner: InsuredPerson) -> list[Event]:
    """Every authorisation event of the membership, oldest first."""
    rows = audit_rows(member)
    who = actors(rows, owner, member)
    return [Event(row.created_at, what, detail, who[row.id])
            for row in rows for what, detail in describe(row)]


def actors(rows: list[AuditLog], owner: InsuredPerson, member: AidMember) -> dict[int, str]:
    """Who did each row: '王*国（共济人）', '王*丽（成员本人）' or '系统'."""
    user_ids = {r.actor_user_id for r in rows if r.actor_user_id is not None}
    people: dict[int, int | None] = {
        user_id: person_id for user_id, person_id in db.session.execute(
            select(User.id, User.person_id).where(User.id.in_(user_ids)))} if user_ids else {}
    out = {}
    for row in rows:
        person_id = people.get(row.actor_user_id) if row.actor_user_id else None
        if person_id == owner.id:
            out[row.id] = f"{mask_name(owner.name)}（{OWNER_ROLE}）"
        elif person_id == member.person_id:
            out[row.id] = f"{mask_name(member.person.name)}（{MEMBER_ROLE}）"
        elif row.actor_user_id is not None:
            out[row.id] = "工作人员"
        else:
            out[row.id] = "系统"
    return out


def _detail(row: AuditLog) -> dict[str, Any]:
    try:
        value = json.loads(row.detail) if row.detail else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def describe(row: AuditLog) -> Iterator[tuple[str, str]]:
    """The event(s) one audit row stands for: (what, detail)."""
    detail = _detail(row)
    if row.action == "aid.window_changed":
        yield from window_changes(detail)
    elif row.action == "aid.relation_changed":  # followed an edit of the 亲情账户 binding
        yield "修改关系", f"{relation_label(detail.get('old', ''))} → " \
            f"{relation_label(detail.get('new', ''))}"
    elif row.action == "aid.member_removed":
        pending = detail.get("from") == AidMemberStatus.PENDING_CONFIRM.value
        yield ("撤回共济邀请" if pending else "移出共济"), ""
    elif row.action in ACTIONS:
        yield ACTIONS[row.action], detail.get("window", "") if row.action in (
            "aid.member_added", "aid.member_invited") else ""


def window_text(starts_on: str | None, ends_on: str | None) -> str:
    """'2026-03-01 至 2026-12-31' (an open end reads 即日起 / 长期)."""
    return f"{starts_on or '即日起'} 至 {ends_on or '长期'}"


def cap_text(cap_fen: int | None) -> str:
    """'¥200.00'."""
    return f"¥{yuan(cap_fen)}" if cap_fen else "不限额"


def _change(kind: str, old: str | None, new: str | None, shown: str) -> tuple[str, str]:
    verb = "设置" if not old else ("取消" if not new else "修改")
    return f"{verb}{kind}", shown


def window_changes(detail: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A window change as its parts: 授权期限 and / or 每月限额 set, changed or removed."""
    old, new = detail.get("old"), detail.get("new")
    if not isinstance(old, dict) or not isinstance(new, dict):
        yield "修改授权设置", f"{detail.get('from') or '长期有效，不限额'} → {detail.get('to', '')}"
        return
    window = ("starts_on", "ends_on")
    if any(old.get(k) != new.get(k) for k in window):
        was = window_text(old.get("starts_on"), old.get("ends_on")) \
            if any(old.get(k) for k in window) else None
        now = window_text(new.get("starts_on"), new.get("ends_on")) \
            if any(new.get(k) for k in window) else None
        shown = f"{was} → {now}" if was and now else (now or f"原为 {was}，现长期有效")
        yield _change("授权期限", was, now, shown)
    if old.get("monthly_cap_fen") != new.get("monthly_cap_fen"):
        was_cap, now_cap = old.get("monthly_cap_fen"), new.get("monthly_cap_fen")
        shown = f"{cap_text(was_cap)} → {cap_text(now_cap)}" if was_cap and now_cap \
            else (cap_text(now_cap) if now_cap else f"原为 {cap_text(was_cap)}，现不限额")
        yield _change("每月限额", str(was_cap or ""), str(now_cap or ""), shown)
