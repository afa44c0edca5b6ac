"""The relation kept on a 家庭共济 membership follows an edit of the 亲情账户 binding of the
same two people (the holder owns the group, the bound relative is its member).

A relation is a fact about two people, so the family sees one: when the holder corrects it in
管理家人 → 编辑, every open membership (待确认 / 已生效) of that relative in the holder's group
takes the new relation in the same transaction, with an audit row on the membership
(``aid.relation_changed``, shown in 共济授权记录). The new relation must be one the group's
共济 policy allows (and plausible by age, within the children limit); otherwise the edit is
refused, saying so. A group the relative owns (the other direction) is theirs and untouched.
"""

from __future__ import annotations

from sqlalchemy import select

from webapp.aid.models import AidGroup, AidMember
from webapp.aid.rules import check_relation, rules_for
from webapp.aid.states import OPEN_STATES, AidGroupStatus
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import InsuredPerson

ACTION = "aid.relation_changed"
MSG_AID = "{name}也是您家庭共济的成员：{reason}。请先在家庭共济中移除该成员，或选择其他关系"
MSG_MAX_CHILDREN = "家庭共济子女成员已达上限（{limit}人）"


def memberships(owner: InsuredPerson, person: InsuredPerson) -> list[AidMember]:
    """The person's open memberships in the owner's open group (at most one)."""
    return list(db.session.scalars(
        select(AidMember).join(AidGroup, AidMember.group_id == AidGroup.id)
        .where(AidGroup.owner_person_id == owner.id, AidGroup.status == AidGroupStatus.ACTIVE,
               AidMember.person_id == person.id, AidMember.status.in_(OPEN_STATES))))


def check(owner: InsuredPerson, person: InsuredPerson, relation: str, name: str) -> list[AidMember]:
    """The memberships that would follow the new relation; DomainError (field ``relation``)
    when the group's 共济 policy does not allow it. Writes nothing."""
    found = [m for m in memberships(owner, person) if m.relation != relation]
    if not found:
        return []
    rules = rules_for(owner)
    try:
        check_relation(owner, person, relation, rules)
    except DomainError as err:
        raise DomainError(MSG_AID.format(name=name, reason=err.message), field="relation",
                          code="aid_relation") from err
    if relation == "child" and rules.max_children is not None:
        others = db.session.scalars(select(AidMember.relation).where(
            AidMember.group_id == found[0].group_id, AidMember.status.in_(OPEN_STATES),
            AidMember.person_id != person.id))
        if sum(1 for r in others if r == "child") >= rules.max_children:
            reason = MSG_MAX_CHILDREN.format(limit=rules.max_children)
            raise DomainError(MSG_AID.format(name=name, reason=reason), field="relation",
                              code="aid_relation")
    return found


def follow(members: list[AidMember], relation: str, actor: Actor) -> None:
    """Give each membership the new relation, one audit row each (no commit)."""
    for member in members:
        old, member.relation = member.relation, relation
        audit.record(ACTION, actor, target=member, person=member.person,
                     detail={"old": old, "new": relation, "source": "kinship.edited"})

