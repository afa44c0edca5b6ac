"""家庭共济: groups, members, their rules and lifecycle, and the 'aid' invitation handler.

An owner (共济人: active, insurance type allowed by ``policy_for(owner.region_code).aid``)
creates one group after a face check (purpose ``aid_create``) and agreeing to the versioned
家庭共济告知书. They add relatives chosen by name + ID number (or picked from their 已绑定
亲情账户 relatives); every rule number comes from the owner's policy:

* relation in ``aid.relations`` (and plausible by birth dates), not oneself, no duplicate;
* the relative is in the registry with that name, insured and active, and — when
  ``aid.same_province`` — insured in the owner's province;
* at most ``aid.max_members`` open (待确认 + 已生效) members, at most ``aid.max_children``
  children where set (Hainan);
* where ``aid.authorisation_window`` / ``aid.monthly_cap_allowed`` (Jiangsu): an optional
  start/end date and monthly cap per member (payments outside / over fall to self-pay).

Under ``aid.self_confirm_age`` the relative joins at once; otherwise the membership waits
(待确认) for an invitation of kind ``aid`` (``webapp.invitations.services``), accepted by
the relative on their own phone after their own face check (purpose ``aid_accept``).

Limits hold under concurrency: adding, accepting and changing members first lock the group
row (``SELECT … FOR UPDATE``); creating a group locks the owner's registry row and the
``owner_person_id`` unique constraint is the last word. A partial unique index allows one
open membership per group and person.

Every step writes an audit row and messages both sides in the same transaction; services
commit at their end and raise ``DomainError`` (with the form field) when a rule refuses.
Paying is in ``webapp.aid.payments`` (the settlement seam).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import SYSTEM, Actor
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db
from webapp.face import services as face
from webapp.idnumber import IdNumberError, parse_id_number
from webapp.invitations import services as invitations
from webapp.invitations.services import InvitationGone, InvitationHandler, Offer
from webapp.kinship.access import showable_people
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import (
    AID_OPEN_STATUSES,
    INSURANCE_TYPES,
    AidGroup,
    AidMember,
    InsuredPerson,
    Invitation,
    KinshipBinding,
    Settlement,
)
from webapp.money import yuan
from webapp.policy import policy_for, relation_label
from webapp.regions import province_name, province_of

KIND = "aid"
CREATE_PURPOSE = "aid_create"
ACCEPT_PURPOSE = "aid_accept"
NOTICE_VERSION = "2026-01"
# How many ended memberships the 成员列表 still shows (newest first).
CLOSED_SHOWN = 20
CONTENT = Path(__file__).resolve().parent.parent / "content"

MSG_EXISTS = "您已创建家庭共济组"
MSG_NO_GROUP = "您还没有开通家庭共济"
MSG_NOT_ACTIVE_OWNER = "您当前未处于参保状态，不能开通家庭共济"
MSG_AGREE = "请阅读并勾选同意《家庭共济告知书》"
MSG_RELATION = "该地区家庭共济不支持该亲属关系"
MSG_SAME_PROVINCE = "共济成员须在同一省份参保"
MSG_NOT_FOUND = "未找到该亲属的参保信息，请核对姓名和身份证号"
MSG_NOT_INSURED = "该亲属未处于参保状态，不能加入家庭共济"
MSG_SELF = "不能添加本人"
MSG_DUPLICATE = "该亲属已在您的家庭共济中，请勿重复添加"
MSG_PICK = "请从已绑定的亲情账户家人中选择"
MSG_MEMBER_NOT_FOUND = "该共济成员不存在或您无权查看"
MSG_FINISHED = "该共济关系已结束，无需再操作"
MSG_TARGET_GONE = "该共济邀请已失效"
MSG_WINDOW_ORDER = "授权结束日期不能早于开始日期"
MSG_WINDOW_PAST = "授权结束日期不能早于今天"
MSG_WINDOW_START_PAST = "授权开始日期不能早于今天"
MSG_NO_WINDOW = "该地区家庭共济不支持设置授权期限"
MSG_NO_CAP = "该地区家庭共济不支持设置每月限额"
MSG_CAP = "每月限额须大于0"
# Relations whose member must be born after (younger) or before (older) the owner.
AGE_ORDER = {"child": "younger", "grandchild": "younger", "parent": "older", "grandparent": "older"}


def max_members_message(limit: int) -> str:
    """"家庭共济成员已达上限（8人）"."""
    return f"家庭共济成员已达上限（{limit}人）"


def max_children_message(limit: int) -> str:
    """"家庭共济子女成员已达上限（3人）"."""
    return f"家庭共济子女成员已达上限（{limit}人）"


def owner_types_message(rules) -> str:
    """"仅职工医保参保人可以开通家庭共济" (types from the policy)."""
    labels = "、".join(INSURANCE_TYPES.get(t, t) for t in rules.insurance_types)
    return f"仅{labels}参保人可以开通家庭共济，居民医保没有个人账户，不能共济"


# --- rules and words ----------------------------------------------------------------------

def rules_for(owner: InsuredPerson):
    """The 家庭共济 section of the policy of the owner's insured region."""
    return policy_for(owner.region_code).aid


def owner_link(member: AidMember) -> str:
    """The owner's page of a member."""
    return messages.page("aid.member", public_id=member.public_id)


def joined_link() -> str:
    """The member's 被绑定列表."""
    return messages.page("aid.joined")


def _tell_both(member: AidMember, owner: InsuredPerson, to_owner: tuple[str, str],
               to_member: tuple[str, str]) -> None:
    """(title, body) to the owner, linking their member page, and to the member, linking
    被绑定列表."""
    messages.send(owner, *to_owner, "aid", owner_link(member))
    messages.send(member.person, *to_member, "aid", joined_link())


@lru_cache(maxsize=8)
def _notice_source(version: str) -> str:
    path = CONTENT / f"aid_notice_{version}.md"
    if not path.is_file():
        raise RuntimeError(f"missing content file {path.name}")
    return path.read_text(encoding="utf-8")


def notice_text(owner: InsuredPerson, version: str = NOTICE_VERSION) -> str:
    """The 家庭共济告知书 with the numbers of the owner's policy filled in."""
    rules = rules_for(owner)
    children = (f"，其中子女最多{rules.max_children}名" if rules.max_children else "")
    window = []
    if rules.authorisation_window:
        window.append("；您可以为每名成员设置授权起止日期，期限外的费用由其本人支付")
    if rules.monthly_cap_allowed:
        window.append("；您可以为每名成员设置每月限额，超出部分由其本人支付")
    return _notice_source(version).format(
        insurance_types="、".join(INSURANCE_TYPES.get(t, t) for t in rules.insurance_types),
        relations="、".join(relation_label(r) for r in rules.relations),
        province=province_name(province_of(owner.region_code)) if rules.same_province
        else "全国范围内",
        max_members=rules.max_members,
        children_rule=children,
        self_confirm_age=rules.self_confirm_age,
        window_rule="".join(window),
    )


def relation_choices(owner: InsuredPerson) -> list[tuple[str, str]]:
    """The relations the owner's policy allows, with Chinese labels."""
    return [(code, relation_label(code)) for code in rules_for(owner).relations]


# --- loading ------------------------------------------------------------------------------

def group_of(owner: InsuredPerson) -> AidGroup | None:
    """The owner's group, if they created one."""
    return db.session.scalar(select(AidGroup).where(AidGroup.owner_person_id == owner.id))


def lock_group(owner: InsuredPerson) -> AidGroup:
    """The owner's active group, row-locked for the rest of the transaction (NotFound/Conflict)."""
    group = db.session.scalar(
        select(AidGroup).where(AidGroup.owner_person_id == owner.id)
        .with_for_update().execution_options(populate_existing=True)
    )
    if group is None:
        raise NotFound(MSG_NO_GROUP, code="no_group")
    if group.status != "active":
        raise Conflict("您的家庭共济已关闭", code="closed")
    return group


def owner_member(owner: InsuredPerson, public_id: str) -> AidMember:
    """A member row of the owner's group (404 for anyone else)."""
    member = db.session.scalar(
        select(AidMember).join(AidGroup, AidGroup.id == AidMember.group_id)
        .where(AidMember.public_id == public_id, AidGroup.owner_person_id == owner.id)
    )
    if member is None:
        raise NotFound(MSG_MEMBER_NOT_FOUND)
    return member


def my_membership(person: InsuredPerson, public_id: str) -> AidMember:
    """A membership of the person themselves (404 for anyone else)."""
    member = db.session.scalar(
        select(AidMember).where(AidMember.public_id == public_id,
                                AidMember.person_id == person.id)
    )
    if member is None:
        raise NotFound(MSG_MEMBER_NOT_FOUND)
    return member


def _lock_member(member: AidMember) -> AidMember:
    """Re-read a member row after its group is locked (what committed while we waited)."""
    return db.session.scalar(
        select(AidMember).where(AidMember.id == member.id)
        .execution_options(populate_existing=True)
    )


# --- creating a group ---------------------------------------------------------------------

def check_owner(owner: InsuredPerson) -> None:
    """An owner must be insured, active, of an insurance type the policy allows."""
    rules = rules_for(owner)
    if owner.insurance_type not in rules.insurance_types:
        raise DomainError(owner_types_message(rules), code="owner_type")
    if not owner.is_active:
        raise DomainError(MSG_NOT_ACTIVE_OWNER, code="owner_inactive")


def can_create(owner: InsuredPerson) -> str:
    """'' when the person may create a group now, else the reason (for the start page)."""
    try:
        check_owner(owner)
    except DomainError as err:
        return err.message
    if group_of(owner) is not None:
        return MSG_EXISTS
    return ""


def _lock_person(person: InsuredPerson) -> None:
    db.session.execute(
        select(InsuredPerson.id).where(InsuredPerson.id == person.id).with_for_update()
    ).all()


def create_group(owner: InsuredPerson, agreed: bool, actor: Actor,
                 notice_version: str = NOTICE_VERSION) -> AidGroup:
    """Create the owner's group: eligible, agreed to the notice, face pass spent; committed."""
    if not agreed:
        raise DomainError(MSG_AGREE, field="agree", code="agree")
    if notice_version != NOTICE_VERSION:
        raise DomainError("告知书已更新，请重新阅读并同意", field="agree", code="notice")
    try:
        _lock_person(owner)
        check_owner(owner)
        if group_of(owner) is not None:
            raise DomainError(MSG_EXISTS, code="exists")
        face.consume(owner, CREATE_PURPOSE)
        group = AidGroup(owner_person_id=owner.id, region_code=owner.region_code,
                         status="active", notice_version=notice_version)
        db.session.add(group)
        db.session.flush()
        audit.record("aid.notice_agreed", actor, target=group, person=owner,
                     detail={"version": notice_version})
        audit.record("aid.group_created", actor, target=group, person=owner,
                     detail={"region": owner.region_code, "balance_fen": owner.balance_fen})
        body = "您已开通家庭共济，可以添加近亲属为共济成员。"
        if owner.balance_fen <= 0:
            body += "您的个人账户当前余额为0，账户有余额后共济成员才能使用。"
        messages.send(owner, "家庭共济已开通", body, "aid", messages.page("aid.index"))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(MSG_EXISTS, code="exists") from None
    except DomainError:
        db.session.rollback()
        raise
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
        raise DomainError(MSG_SELF, field="id_number", code="self")
    person = db.session.scalar(select(InsuredPerson).where(InsuredPerson.id_number == info.number))
    if person is None or person.name != (name or "").strip():
        raise DomainError(MSG_NOT_FOUND, field="id_number", code="not_found")
    return person


def pickable_bindings(owner: InsuredPerson) -> list[KinshipBinding]:
    """The owner's 已绑定 亲情账户 relatives (offered to pick from)."""
    return [binding for _, binding in showable_people(owner) if binding is not None]


def person_by_binding(owner: InsuredPerson, binding_public_id: str) -> KinshipBinding:
    """The owner's 已绑定 亲情账户 binding named by public id (field error otherwise)."""
    for binding in pickable_bindings(owner):
        if binding.public_id == binding_public_id:
            return binding
    raise DomainError(MSG_PICK, field="pick", code="pick")


def open_members(group: AidGroup) -> list[AidMember]:
    """The group's open (待确认 / 已生效) members."""
    return list(db.session.scalars(
        select(AidMember).where(AidMember.group_id == group.id,
                                AidMember.status.in_(AID_OPEN_STATUSES))
        .order_by(AidMember.id)
    ))


def count_text(owner: InsuredPerson, group: AidGroup | None = None) -> str:
    """"共济成员 3/8（含待确认）"."""
    group = group or group_of(owner)
    used = len(open_members(group)) if group else 0
    return f"共济成员 {used}/{rules_for(owner).max_members}（含待确认）"


def check_relation(owner: InsuredPerson, person: InsuredPerson, relation: str, rules) -> None:
    """The relation is allowed in the owner's region and plausible by birth dates."""
    if relation not in rules.relations:
        raise DomainError(MSG_RELATION, field="relation", code="relation")
    order = AGE_ORDER.get(relation)
    if order == "younger" and not person.birth_date > owner.birth_date:
        raise DomainError(f"{relation_label(relation)}的年龄应小于您的年龄", field="relation",
                          code="younger")
    if order == "older" and not person.birth_date < owner.birth_date:
        raise DomainError(f"{relation_label(relation)}的年龄应大于您的年龄", field="relation",
                          code="older")


def check_person(owner: InsuredPerson, person: InsuredPerson, rules) -> None:
    """Not oneself; insured and active; in the owner's province where the policy says so."""
    if person.id == owner.id:
        raise DomainError(MSG_SELF, field="id_number", code="self")
    if not person.is_active:
        raise DomainError(MSG_NOT_INSURED, field="id_number", code="not_insured")
    if rules.same_province and province_of(person.region_code) != province_of(owner.region_code):
        raise DomainError(MSG_SAME_PROVINCE, field="id_number", code="other_province")


def check_limits(group: AidGroup, person: InsuredPerson, relation: str, rules) -> None:
    """No duplicate; members and children within the policy's limits (pending counted)."""
    current = open_members(group)
    if any(m.person_id == person.id for m in current):
        raise DomainError(MSG_DUPLICATE, field="id_number", code="duplicate")
    if len(current) >= rules.max_members:
        raise DomainError(max_members_message(rules.max_members), code="max_members")
    if relation == "child" and rules.max_children is not None:
        children = sum(1 for m in current if m.relation == "child")
        if children >= rules.max_children:
            raise DomainError(max_children_message(rules.max_children), field="relation",
                              code="max_children")


def check_window(rules, starts_on: date | None, ends_on: date | None,
                 monthly_cap_fen: int | None, today: date, new: bool = True) -> None:
    """The optional authorisation window and monthly cap, where the policy allows them."""
    if (starts_on or ends_on) and not rules.authorisation_window:
        raise DomainError(MSG_NO_WINDOW, field="starts_on", code="no_window")
    if monthly_cap_fen is not None and not rules.monthly_cap_allowed:
        raise DomainError(MSG_NO_CAP, field="monthly_cap", code="no_cap")
    if new and starts_on is not None and starts_on < today:
        raise DomainError(MSG_WINDOW_START_PAST, field="starts_on", code="window_start")
    if ends_on is not None and ends_on < today:
        raise DomainError(MSG_WINDOW_PAST, field="ends_on", code="window_past")
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise DomainError(MSG_WINDOW_ORDER, field="ends_on", code="window_order")
    if monthly_cap_fen is not None and (isinstance(monthly_cap_fen, bool)
                                        or not isinstance(monthly_cap_fen, int)
                                        or monthly_cap_fen <= 0):
        raise DomainError(MSG_CAP, field="monthly_cap", code="cap")


def window_text(member: AidMember) -> str:
    """'2026-03-01 至 2026-12-31，每月限额¥200.00' ('' when open-ended without a cap)."""
    parts = []
    if member.starts_on or member.ends_on:
        start = member.starts_on.isoformat() if member.starts_on else "即日起"
        end = member.ends_on.isoformat() if member.ends_on else "长期"
        parts.append(f"授权期限 {start} 至 {end}")
    if member.monthly_cap_fen:
        parts.append(f"每月限额¥{yuan(member.monthly_cap_fen)}")
    return "，".join(parts)


def expire_stale(group: AidGroup, actor: Actor = SYSTEM) -> int:
    """Mark 待确认 members whose invitations can no longer be answered 已过期 (no commit)."""
    now = clock.now()
    count = 0
    for member in db.session.scalars(
            select(AidMember).where(AidMember.group_id == group.id,
                                    AidMember.status == "pending_confirm")):
        if invitations.open_for(KIND, member.id, now):
            continue
        member.status, member.ended_at, member.ended_by = "expired", now, "system"
        who = mask_name(member.person.name)
        audit.record("aid.member_expired", actor, target=member, person=member.person)
        _tell_both(member, group.owner,
                   (f"对{who}的共济邀请已过期",
                    f"{who}（{relation_label(member.relation)}）未在有效期内确认，邀请已过期。"
                    "如需共济，请重新添加。"),
                   ("家庭共济邀请已过期", f"{mask_name(group.owner.name)}的家庭共济邀请已过期。"))
        count += 1
    return count


def housekeeping(owner: InsuredPerson) -> None:
    """Expire stale invitations of the owner's group when a page loads (commits if any)."""
    group = group_of(owner)
    if group is not None and expire_stale(group):
        db.session.commit()


def add_member(owner: InsuredPerson, relation: str, actor: Actor, *, name: str = "",
               id_number: str = "", pick: str = "", starts_on: date | None = None,
               ends_on: date | None = None, monthly_cap_fen: int | None = None) -> Added:
    """Add a relative (typed name + ID number, or ``pick`` = a 亲情账户 binding's public id).

    Under the self-confirm age they join at once; otherwise an invitation is created and its
    raw token returned. Every rule is checked after the group row is locked; committed.
    """
    today = clock.today()
    try:
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
        check_limits(group, person, relation, rules)
        check_window(rules, starts_on, ends_on, monthly_cap_fen, today)
        direct = person.age_on(today) < rules.self_confirm_age
        member = AidMember(group_id=group.id, person_id=person.id, relation=relation,
                           status="active" if direct else "pending_confirm",
                           starts_on=starts_on, ends_on=ends_on, monthly_cap_fen=monthly_cap_fen,
                           joined_at=clock.now() if direct else None)
        db.session.add(member)
        db.session.flush()
        token = None
        if not direct:
            _, token = invitations.create(KIND, member.id, owner, person, actor)
        audit.record("aid.member_added" if direct else "aid.member_invited", actor,
                     target=member, person=person,
                     detail={"relation": relation, "status": member.status,
                             "picked": bool(pick), "window": window_text(member)})
        _notify_added(member, owner, person)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(MSG_DUPLICATE, field="id_number", code="duplicate") from None
    except DomainError:
        db.session.rollback()
        raise
    return Added(member, token)


def _notify_added(member: AidMember, owner: InsuredPerson, person: InsuredPerson) -> None:
    label = relation_label(member.relation)
    who, by = mask_name(person.name), mask_name(owner.name)
    limits = window_text(member)
    extra = f"（{limits}）" if limits else ""
    if member.status == "active":
        _tell_both(member, owner,
                   ("已添加共济成员", f"{who}（{label}）已加入您的家庭共济{extra}，可使用您的个人"
                    "账户余额支付其就医购药费用。"),
                   ("您已加入家庭共济", f"{by}已将您添加为家庭共济成员（关系：{label}）{extra}。"
                    "您使用本人医保码结算时，本人个人账户不足的部分可由对方的个人账户支付。"))
    else:
        inv = invitations.latest_for(KIND, member.id)
        messages.send(owner, f"已向{who}发送共济邀请",
                      f"请将邀请链接发给{who}（{label}），对方本人确认后即可使用您的个人账户余额。",
                      "aid", owner_link(member))
        messages.send(person, f"{by}邀请您加入家庭共济",
                      f"{by}邀请您加入其家庭共济（您是对方的{label}）{extra}。请打开对方发给您的"
                      "邀请链接，或点此查看，完成人脸识别后确认或拒绝。", "invitation",
                      messages.page("invite.view", public_id=inv.public_id) if inv else joined_link())


# --- changing, removing, leaving ----------------------------------------------------------

def set_window(owner: InsuredPerson, member: AidMember, starts_on: date | None,
               ends_on: date | None, monthly_cap_fen: int | None, actor: Actor) -> AidMember:
    """Change a member's authorisation window and monthly cap (Jiangsu); committed."""
    try:
        member = _owners_open_member(owner, member)
        rules = rules_for(owner)
        new_start = starts_on != member.starts_on
        check_window(rules, starts_on, ends_on, monthly_cap_fen, clock.today(), new=new_start)
        before = window_text(member)
        member.starts_on, member.ends_on, member.monthly_cap_fen = starts_on, ends_on, \
            monthly_cap_fen
        after = window_text(member) or "长期有效，不限额"
        audit.record("aid.window_changed", actor, target=member, person=member.person,
                     detail={"from": before, "to": after})
        who = mask_name(member.person.name)
        _tell_both(member, owner, ("共济授权已更新", f"{who}的共济授权已更新：{after}。"),
                   ("家庭共济授权已更新", f"{mask_name(owner.name)}更新了您的共济授权：{after}。"))
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return member


def _owners_open_member(owner: InsuredPerson, member: AidMember) -> AidMember:
    """Lock the owner's group and the member row; it must be the owner's and still open."""
    lock_group(owner)
    member = _lock_member(member)
    if member.group.owner_person_id != owner.id:
        raise NotFound(MSG_MEMBER_NOT_FOUND)
    if not member.is_open:
        raise Conflict(MSG_FINISHED, code="finished")
    return member


def _revoke_open(member: AidMember, actor: Actor, reason: str) -> None:
    for inv in invitations.open_for(KIND, member.id):
        invitations.revoke(inv, None, actor, reason=reason)


def remove_member(owner: InsuredPerson, member: AidMember, actor: Actor) -> AidMember:
    """The owner removes a member (or withdraws a 待确认 invitation); committed."""
    try:
        member = _owners_open_member(owner, member)
        was = member.status
        member.status, member.ended_at, member.ended_by = "removed", clock.now(), "owner"
        _revoke_open(member, actor, "aid_removed")
        audit.record("aid.member_removed", actor, target=member, person=member.person,
                     detail={"from": was})
        who, by = mask_name(member.person.name), mask_name(owner.name)
        label = relation_label(member.relation)
        if was == "active":
            _tell_both(member, owner,
                       ("已移除共济成员", f"您已将{who}（{label}）移出家庭共济，对方已不能使用您的"
                        "个人账户余额。"),
                       ("您已被移出家庭共济", f"{by}已将您移出其家庭共济，您已不能使用对方的个人"
                        "账户余额支付。"))
        else:
            _tell_both(member, owner,
                       ("已撤回共济邀请", f"您已撤回对{who}（{label}）的家庭共济邀请。"),
                       ("家庭共济邀请已撤回", f"{by}已撤回对您的家庭共济邀请，原邀请链接已失效。"))
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return member


def _tell_declined(member: AidMember, owner: InsuredPerson) -> None:
    """Both sides learn that a 待确认 member said no (from the link or from their list)."""
    who = mask_name(member.person.name)
    _tell_both(member, owner,
               (f"{who}拒绝了共济邀请",
                f"{who}（{relation_label(member.relation)}）拒绝了您的家庭共济邀请。"),
               ("您已拒绝共济邀请", f"您已拒绝{mask_name(owner.name)}的家庭共济邀请。"))


def leave(person: InsuredPerson, member: AidMember, actor: Actor) -> AidMember:
    """A member leaves a group (or declines a 待确认 one from the list); committed."""
    try:
        group = db.session.get(AidGroup, member.group_id)
        lock_group(group.owner)
        member = _lock_member(member)
        if member.person_id != person.id:
            raise NotFound(MSG_MEMBER_NOT_FOUND)
        if not member.is_open:
            raise Conflict(MSG_FINISHED, code="finished")
        was = member.status
        member.status = "left" if was == "active" else "declined"
        member.ended_at, member.ended_by = clock.now(), "member"
        _revoke_open(member, actor, "aid_left")
        audit.record("aid.member_left" if was == "active" else "aid.member_declined", actor,
                     target=member, person=person, detail={"from": was})
        who, owner = mask_name(person.name), mask_name(group.owner.name)
        label = relation_label(member.relation)
        if was == "active":
            _tell_both(member, group.owner,
                       (f"{who}已退出家庭共济", f"{who}（{label}）已退出您的家庭共济，已不能使用"
                        "您的个人账户余额。"),
                       ("您已退出家庭共济", f"您已退出{owner}的家庭共济，已不能使用对方的个人"
                        "账户余额支付。"))
        else:
            _tell_declined(member, group.owner)
        db.session.commit()
    except DomainError:
        db.session.rollback()
        raise
    return member


def resend(owner: InsuredPerson, member: AidMember, actor: Actor) -> str:
    """A fresh invitation link for a 待确认 member (the old one stops working); committed."""
    if member.group.owner_person_id != owner.id:
        raise NotFound(MSG_MEMBER_NOT_FOUND)
    if member.status != "pending_confirm":
        raise Conflict(MSG_FINISHED, code="finished")
    current = invitations.open_for(KIND, member.id)
    if current:
        _, raw = invitations.resend(current[-1], owner, actor)
        return raw
    raise Conflict("邀请已过期，请移除后重新添加", code="expired")


# --- the invitation handler ---------------------------------------------------------------

def member_of(inv: Invitation) -> AidMember:
    """The membership an invitation confirms."""
    member = db.session.get(AidMember, inv.target_id)
    if member is None:
        raise NotFound(invitations.MSG_UNKNOWN, code="unknown")
    return member


class AidInvitations(InvitationHandler):
    """Invitations a relative of the self-confirm age or older accepts to join a group."""

    kind = KIND
    face_purpose = ACCEPT_PURPOSE

    def offer(self, inv: Invitation) -> Offer:
        member = member_of(inv)
        owner = mask_name(member.group.owner.name)
        limits = window_text(member)
        meaning = [
            f"{owner}邀请您加入其职工医保个人账户家庭共济。",
            f"加入后，您使用本人医保码就医购药时，本人个人账户不足的部分可由{owner}的个人账户支付，"
            "仍不足的部分由您本人支付。",
        ]
        if limits:
            meaning.append(f"{owner}为您设置了{limits}，超出部分由您本人支付。")
        meaning += [f"您的每一笔共济支付，{owner}都会收到通知并可查看明细。",
                    "您可以随时在“家庭共济 › 被绑定列表”中退出。"]
        return Offer(title="家庭共济邀请", inviter=owner,
                     relation=f"您是{owner}的{relation_label(member.relation)}",
                     meaning=tuple(meaning),
                     invite_line="邀请您加入家庭共济",
                     accepted_line="您已加入家庭共济，可使用其个人账户余额支付医药费用。",
                     accepted_hint="如需退出，可随时在“家庭共济 › 被绑定列表”中操作。")

    def check_open(self, inv: Invitation) -> None:
        if member_of(inv).status != "pending_confirm":
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")

    def accepted(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        member = member_of(inv)
        group = db.session.get(AidGroup, member.group_id)
        owner = group.owner
        lock_group(owner)
        member = _lock_member(member)
        if member.status != "pending_confirm":
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")
        rules = rules_for(owner)
        try:
            check_owner(owner)
        except DomainError:
            raise Conflict("邀请人当前不能共济，邀请已失效", code="target_gone") from None
        check_person(owner, person, rules)
        member.status, member.joined_at = "active", clock.now()
        audit.record("aid.member_joined", actor, target=member, person=person,
                     detail={"invitation": inv.public_id})
        who, by = mask_name(person.name), mask_name(owner.name)
        label = relation_label(member.relation)
        _tell_both(member, owner,
                   (f"{who}已加入家庭共济", f"{who}（{label}）已确认加入您的家庭共济，可使用您的"
                    "个人账户余额支付其就医购药费用。"),
                   ("您已加入家庭共济", f"您已确认加入{by}的家庭共济。使用本人医保码结算时，本人"
                    "个人账户不足的部分可由对方的个人账户支付。如需退出，可在“被绑定列表”中操作。"))

    def declined(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        member = member_of(inv)
        group = db.session.get(AidGroup, member.group_id)
        lock_group(group.owner)
        member = _lock_member(member)
        if member.status != "pending_confirm":
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")
        member.status, member.ended_at, member.ended_by = "declined", clock.now(), "member"
        audit.record("aid.member_declined", actor, target=member, person=person,
                     detail={"invitation": inv.public_id})
        _tell_declined(member, group.owner)

    def resent(self, old: Invitation, new: Invitation, actor: Actor) -> None:
        member = member_of(new)
        until = clock.china_time(new.expires_at)
        by = mask_name(member.group.owner.name)
        messages.send(member.person, f"{by}再次邀请您加入家庭共济",
                      f"{by}重新发送了家庭共济邀请，原链接已失效，请在{until}前确认或拒绝。",
                      "invitation", messages.page("invite.view", public_id=new.public_id))

    def done_url(self, inv: Invitation, outcome: str) -> str:
        return joined_link()


HANDLER = invitations.register_handler(AidInvitations())


# --- lists --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberRow:
    """One member as the owner's 成员列表 shows it."""

    member: AidMember
    relation: str
    spent_year_fen: int
    invitation: Invitation | None = None

    @property
    def pill(self) -> str:
        return {"active": "ok", "pending_confirm": "wait", "declined": "bad"}.get(
            self.member.status, "off")

    @property
    def limits(self) -> str:
        return window_text(self.member)


def year_range(day: date) -> tuple[datetime, datetime]:
    """The naive-UTC bounds of the China calendar year of ``day``."""
    return (clock.china_midnight_utc(date(day.year, 1, 1)),
            clock.china_midnight_utc(date(day.year + 1, 1, 1)))


def spent_this_year(owner: InsuredPerson, day: date | None = None) -> dict[int, int]:
    """person id → fen paid from the owner's account for them this China year."""
    start, end = year_range(day or clock.today())
    rows = db.session.execute(
        select(Settlement.person_id, func.coalesce(func.sum(Settlement.aid_fen), 0))
        .where(Settlement.aid_owner_person_id == owner.id, Settlement.created_at >= start,
               Settlement.created_at < end)
        .group_by(Settlement.person_id)
    ).all()
    return {pid: int(total) for pid, total in rows}


def member_rows(group: AidGroup, include_closed: bool = True) -> list[MemberRow]:
    """The group's members: open ones first (newest first), then ended ones."""
    spent = spent_this_year(group.owner)
    members = db.session.scalars(
        select(AidMember).options(selectinload(AidMember.person))
        .where(AidMember.group_id == group.id)
        .order_by(AidMember.created_at.desc(), AidMember.id.desc())
    ).all()
    rows = []
    closed = 0
    for m in sorted(members, key=lambda m: 0 if m.is_open else 1):
        if not m.is_open:
            closed += 1
            if not include_closed or closed > CLOSED_SHOWN:
                continue
        inv = None
        if m.status == "pending_confirm":
            found = invitations.open_for(KIND, m.id)
            inv = found[-1] if found else None
        rows.append(MemberRow(m, relation_label(m.relation), spent.get(m.person_id, 0), inv))
    return rows


@dataclass(frozen=True)
class JoinedRow:
    """One group the person belongs to (or is invited to), for 被绑定列表."""

    member: AidMember
    owner: InsuredPerson
    relation: str
    usable: bool  # whether the owner's balance could pay for them today
    reason: str  # why not, in words ('' when usable)
    spent_year_fen: int
    invitation: Invitation | None = None

    @property
    def limits(self) -> str:
        return window_text(self.member)


def joined_rows(person: InsuredPerson) -> list[JoinedRow]:
    """Groups the person is an open member of, newest first."""
    members = db.session.scalars(
        select(AidMember)
        .options(selectinload(AidMember.group).selectinload(AidGroup.owner)
                 .selectinload(InsuredPerson.account))
        .where(AidMember.person_id == person.id, AidMember.status.in_(AID_OPEN_STATUSES))
        .order_by(AidMember.created_at.desc(), AidMember.id.desc())
    ).all()
    today = clock.today()
    rows = []
    for m in members:
        owner = m.group.owner
        reason = ""
        if m.status != "active":
            reason = "待您确认"
        elif m.group.status != "active":
            reason = "共济组已关闭"
        elif not owner.is_active:
            reason = "共济人当前未处于参保状态"
        elif not m.covers(today):
            reason = "不在授权期限内"
        elif owner.balance_fen <= 0:
            reason = "共济人账户余额为0，暂不能支付"
        inv = None
        if m.status == "pending_confirm":
            found = invitations.open_for(KIND, m.id)
            inv = found[-1] if found else None
            if inv is None:
                continue
        rows.append(JoinedRow(m, owner, relation_label(m.relation), not reason, reason,
                              spent_this_year(owner, today).get(person.id, 0), inv))
    return rows
