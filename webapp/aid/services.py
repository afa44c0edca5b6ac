"""家庭共济 commands: open a group, add members, change their window, remove, leave, resend,
expire.

An owner (共济人) opens one group after a face check (purpose ``aid_create``) and agreeing to
the policy's version of the 家庭共济告知书; they add relatives by name + ID number or picked
from their 已绑定 亲情账户 relatives (the rules are in ``webapp.aid.rules``). Under the
self-confirm age a relative joins at once; otherwise the membership waits (待确认) for an
invitation of kind ``aid`` (``webapp.aid.invitation``).

Each command is short: lock (the owner's registry row to create a group, the group row for
everything else, so the limits hold under concurrency; the ``owner_person_id`` unique
constraint and the one-open-membership partial index are the last word), look the step up in
``webapp.aid.states``, apply it, audit, tell both sides (``webapp.aid.notices``), commit. A
rule that refuses raises ``DomainError`` and nothing is kept. Paying is in
``webapp.aid.payments``; what pages show is in ``webapp.aid.queries``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import clock
from webapp.aid import invitation  # noqa: F401  (registers the 'aid' invitation handler)
from webapp.aid.notices import refuse, tell
from webapp.aid.queries import (
    group_of,
    open_members,
    pickable_bindings,
)
from webapp.aid.rules import (
    CREATE_PURPOSE,
    KIND,
    check_limits,
    check_owner,
    check_person,
    check_relation,
    check_window,
    rules_for,
    window_text,
)
from webapp.aid.states import (
    ADDED,
    MEMBER,
    MEMBER_TRANSITIONS,
    OWNER,
    AidGroupStatus,
)
from webapp.aid.steps import current_status, expire_stale, lock_group, lock_member, step
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.face import services as face
from webapp.idnumber import IdNumberError, parse_id_number
from webapp.invitations import services as invitations
from webapp.models import AidGroup, AidMember, InsuredPerson, KinshipBinding


@contextmanager
def _unit(duplicate: str | None = None, field: str | None = None) -> Iterator[None]:
    """One command's transaction: commit at the end; roll back on a refusal (a unique
    constraint firing becomes the ``duplicate`` refusal where one is named)."""
    try:
        yield
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if duplicate is None:
            raise
        raise refuse(duplicate, field=field) from None
    except DomainError:
        db.session.rollback()
        raise


# --- creating a group ---------------------------------------------------------------------

def _lock_person(person: InsuredPerson) -> None:
    db.session.execute(
        select(InsuredPerson.id).where(InsuredPerson.id == person.id).with_for_update()
    ).all()


def create_group(owner: InsuredPerson, agreed: bool, actor: Actor,
                 notice_version: str | None = None) -> AidGroup:
    """Create the owner's group: eligible, agreed to the notice, face pass spent; committed."""
    version = notice_version or rules_for(owner).notice_version
    if not agreed:
        raise refuse("agree", field="agree")
    if version != rules_for(owner).notice_version:
        raise refuse("notice", field="agree")
    with _unit(duplicate="exists"):
        _lock_person(owner)
        check_owner(owner)
        if group_of(owner) is not None:
            raise refuse("exists")
        face.consume(owner, CREATE_PURPOSE)
        group = AidGroup(owner_person_id=owner.id, region_code=owner.region_code,
                         status=AidGroupStatus.ACTIVE, notice_version=version)
        db.session.add(group)
        db.session.flush()
        audit.record("aid.notice_agreed", actor, target=group, person=owner,
                     detail={"version": version})
        audit.record("aid.group_created", actor, target=group, person=owner,
                     detail={"region": owner.region_code, "balance_fen": owner.balance_fen})
        zero = "您的个人账户当前余额为0，账户有余额后共济成员才能使用。" \
            if owner.balance_fen <= 0 else ""
        tell("group_created", owner, zero_balance=zero)
    return group


# --- adding members -----------------------------------------------------------------------

@dataclass(frozen=True)
class Added:
    """A new member and, for a relative of the self-confirm age or older, the raw token."""

    member: AidMember
    token: str | None


def person_by_identity(owner: InsuredPerson, name: str, id_number: str,
                       today: date | None = None) -> InsuredPerson:
    """The registry person with this ID number and exactly this name (field errors)."""
    today = today or clock.today()
    try:
        info = parse_id_number(id_number or "", today=today)
    except IdNumberError as err:
        raise DomainError(err.reason, field="id_number", code="id_format") from err
    if info.number == owner.id_number:
        raise refuse("self", field="id_number")
    person = db.session.scalar(select(InsuredPerson).where(InsuredPerson.id_number == info.number))
    if person is None or person.name != (name or "").strip():
        raise refuse("not_found", field="id_number")
    return person


def person_by_binding(owner: InsuredPerson, binding_public_id: str) -> KinshipBinding:
    """The owner's 已绑定 亲情账户 binding named by public id (field error otherwise)."""
    for binding in pickable_bindings(owner):
        if binding.public_id == binding_public_id:
            return binding
    raise refuse("pick", field="pick")


def add_member(owner: InsuredPerson, relation: str, actor: Actor, *, name: str = "",
               id_number: str = "", pick: str = "", starts_on: date | None = None,
               ends_on: date | None = None, monthly_cap_fen: int | None = None) -> Added:
    """Add a relative (typed name + ID number, or ``pick`` = a 亲情账户 binding's public id).

    Under the self-confirm age they join at once; otherwise an invitation is created and its
    raw token returned. Every rule is checked after the group row is locked; committed.
    """
    today = clock.today()
    with _unit(duplicate="duplicate", field="id_number"):
        rules = rules_for(owner)
        check_owner(owner)
        group = lock_group(owner)
        expire_stale(group, actor)
        if pick:
            person = person_by_binding(owner, pick).member
        else:
            person = person_by_identity(owner, name, id_number, today)
        check_person(owner, person, rules)
        check_relation(owner, person, relation, rules)
        check_limits(open_members(group), person, relation, rules)
        check_window(rules, starts_on, ends_on, monthly_cap_fen, today)
        how = "member_added" if person.age_on(today) < rules.self_confirm_age \
            else "member_invited"
        member = AidMember(group_id=group.id, person_id=person.id, relation=relation,
                           status=ADDED[how], starts_on=starts_on, ends_on=ends_on,
                           monthly_cap_fen=monthly_cap_fen,
                           joined_at=clock.now() if how == "member_added" else None)
        db.session.add(member)
        db.session.flush()
        inv, token = None, None
        if how == "member_invited":
            inv, token = invitations.create(KIND, member.id, owner, person, actor)
        audit.record(f"aid.{how}", actor, target=member, person=person,
                     detail={"relation": relation, "status": str(member.status),
                             "picked": bool(pick), "window": window_text(member),
                             **authorisation(member)})
        tell(how, owner, member, invitation=inv, limits=window_text(member))
    return Added(member, token)


# --- changing, removing, leaving ----------------------------------------------------------

def _owners_member(owner: InsuredPerson, member: AidMember) -> AidMember:
    """Lock the owner's group and the member row, which must be of the owner's group."""
    _, member = lock_member(member, OWNER)
    if member.group.owner_person_id != owner.id:
        raise refuse("member_not_found", error=NotFound)
    return member


def set_window(owner: InsuredPerson, member: AidMember, starts_on: date | None,
               ends_on: date | None, monthly_cap_fen: int | None, actor: Actor) -> AidMember:
    """Change a member's authorisation window and monthly cap (Jiangsu); committed."""
    with _unit():
        member = _owners_member(owner, member)
        state = current_status(member)
        MEMBER_TRANSITIONS.step(state, "change_window", OWNER)
        new_start = starts_on != member.starts_on
        check_window(rules_for(owner), starts_on, ends_on, monthly_cap_fen, clock.today(),
                     new=new_start)
        before, old = window_text(member), authorisation(member)
        member.starts_on, member.ends_on = starts_on, ends_on
        member.monthly_cap_fen = monthly_cap_fen
        after = window_text(member) or "长期有效，不限额"
        step(member, "change_window", OWNER, actor, owner, state,
             detail={"from": before, "to": after, "old": old, "new": authorisation(member)},
             after=after)
    return member


def authorisation(member: AidMember) -> dict[str, str | int | None]:
    """The member's window and cap as audit detail (``webapp.aid.history`` reads them)."""
    return {"starts_on": member.starts_on.isoformat() if member.starts_on else None,
            "ends_on": member.ends_on.isoformat() if member.ends_on else None,
            "monthly_cap_fen": member.monthly_cap_fen}


def _revoke_open(member: AidMember, actor: Actor, reason: str) -> None:
    for inv in invitations.open_for(KIND, member.id):
        invitations.revoke(inv, None, actor, reason=reason)


def remove_member(owner: InsuredPerson, member: AidMember, actor: Actor) -> AidMember:
    """The owner removes a member (or withdraws a 待确认 invitation); committed."""
    with _unit():
        member = _owners_member(owner, member)
        step(member, "remove", OWNER, actor, owner, current_status(member))
        _revoke_open(member, actor, "aid_removed")
    return member


def leave(person: InsuredPerson, member: AidMember, actor: Actor) -> AidMember:
    """A member leaves a group (or declines a 待确认 one from 被绑定列表); committed."""
    with _unit():
        group, member = lock_member(member, MEMBER)
        if member.person_id != person.id:
            raise refuse("member_not_found", error=NotFound)
        step(member, "leave", MEMBER, actor, group.owner, current_status(member))
        _revoke_open(member, actor, "aid_left")
    return member


def resend(owner: InsuredPerson, member: AidMember, actor: Actor) -> str:
    """A fresh invitation link for a 待确认 member (the old one stops working); committed."""
    if member.group.owner_person_id != owner.id:
        raise refuse("member_not_found", error=NotFound)
    MEMBER_TRANSITIONS.step(current_status(member), "resend", OWNER)
    current = invitations.open_for(KIND, member.id)
    _, raw = invitations.resend(current[-1], owner, actor)  # the handler sends the notice
    return raw
