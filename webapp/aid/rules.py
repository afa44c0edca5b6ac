"""家庭共济 rules: every check a group or member must pass, each number from the owner's policy.

* the owner insured, active, of an insurance type ``aid.insurance_types`` allows;
* the relative: not oneself, insured and active, in the owner's province when
  ``aid.same_province``; relation in ``aid.relations`` and plausible by birth dates
  (``policy.age_order``);
* at most ``aid.max_members`` open (待确认 + 已生效) members (``group_is_full``), at most
  ``aid.max_children`` children where set (Hainan), no duplicate;
* where ``aid.authorisation_window`` / ``aid.monthly_cap_allowed`` (Jiangsu): an optional
  start/end date and a positive monthly cap.

Checks raise ``DomainError`` (with the form field) through ``notices.refuse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

from webapp.aid.notices import refuse
from webapp.models import INSURANCE_TYPES, AidMember, InsuredPerson
from webapp.money import yuan
from webapp.policy import AidRules, age_order, policy_for, relation_label
from webapp.regions import province_name, province_of

CONTENT = Path(__file__).resolve().parent.parent / "content"
KIND = "aid"  # the invitation kind of a membership waiting for its relative's answer
CREATE_PURPOSE = "aid_create"  # face check before opening a group
ACCEPT_PURPOSE = "aid_accept"  # face check before accepting an invitation


def rules_for(owner: InsuredPerson) -> AidRules:
    """The 家庭共济 section of the policy of the owner's insured region."""
    return policy_for(owner.region_code).aid


def notice_version(owner: InsuredPerson) -> str:
    """The version of the 家庭共济告知书 the owner must agree to now."""
    return rules_for(owner).notice_version


def relation_choices(owner: InsuredPerson) -> list[tuple[str, str]]:
    """The relations the owner's policy allows, with Chinese labels."""
    return [(code, relation_label(code)) for code in rules_for(owner).relations]


# --- the group's size: one answer for every page and the service ----------------------------

def group_is_full(open_count: int, rules: AidRules) -> bool:
    """Whether a group with ``open_count`` open (待确认 + 已生效) members takes no one more."""
    return open_count >= rules.max_members


def count_text(open_count: int, rules: AidRules) -> str:
    """"共济成员 3/8（含待确认）"."""
    return f"共济成员 {open_count}/{rules.max_members}（含待确认）"


# --- owner and relative -------------------------------------------------------------------

def check_owner(owner: InsuredPerson) -> None:
    """An owner must be insured, active, of an insurance type the policy allows."""
    rules = rules_for(owner)
    if owner.insurance_type not in rules.insurance_types:
        types = "、".join(INSURANCE_TYPES.get(t, t) for t in rules.insurance_types)
        raise refuse("owner_type", types=types)
    if not owner.is_active:
        raise refuse("owner_inactive")


def check_relation(owner: InsuredPerson, person: InsuredPerson, relation: str,
                   rules: AidRules) -> None:
    """The relation is allowed in the owner's region and plausible by birth dates."""
    if relation not in rules.relations:
        raise refuse("relation", field="relation")
    order = age_order(relation)
    if order == "younger" and not person.birth_date > owner.birth_date:
        raise refuse("younger", field="relation", relation=relation_label(relation))
    if order == "older" and not person.birth_date < owner.birth_date:
        raise refuse("older", field="relation", relation=relation_label(relation))


def check_person(owner: InsuredPerson, person: InsuredPerson, rules: AidRules) -> None:
    """Not oneself; insured and active; in the owner's province where the policy says so."""
    if person.id == owner.id:
        raise refuse("self", field="id_number")
    if not person.is_active:
        raise refuse("not_insured", field="id_number")
    if rules.same_province and province_of(person.region_code) != province_of(owner.region_code):
        raise refuse("other_province", field="id_number")


def check_limits(current: Sequence[AidMember], person: InsuredPerson, relation: str,
                 rules: AidRules) -> None:
    """No duplicate; members and children within the policy's limits (``current``: the open
    members, pending ones counted)."""
    if any(m.person_id == person.id for m in current):
        raise refuse("duplicate", field="id_number")
    if group_is_full(len(current), rules):
        raise refuse("max_members", limit=rules.max_members)
    if relation == "child" and rules.max_children is not None:
        children = sum(1 for m in current if m.relation == "child")
        if children >= rules.max_children:
            raise refuse("max_children", field="relation", limit=rules.max_children)


# --- the Jiangsu window and cap -----------------------------------------------------------

def check_window(rules: AidRules, starts_on: date | None, ends_on: date | None,
                 monthly_cap_fen: int | None, today: date, new: bool = True) -> None:
    """The optional authorisation window and monthly cap, where the policy allows them."""
    if (starts_on or ends_on) and not rules.authorisation_window:
        raise refuse("no_window", field="starts_on")
    if monthly_cap_fen is not None and not rules.monthly_cap_allowed:
        raise refuse("no_cap", field="monthly_cap")
    if new and starts_on is not None and starts_on < today:
        raise refuse("window_start", field="starts_on")
    if ends_on is not None and ends_on < today:
        raise refuse("window_past", field="ends_on")
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        raise refuse("window_order", field="ends_on")
    if monthly_cap_fen is not None and (isinstance(monthly_cap_fen, bool)
                                        or not isinstance(monthly_cap_fen, int)
                                        or monthly_cap_fen <= 0):
        raise refuse("cap", field="monthly_cap")


def window_text(member: AidMember) -> str:
    """'授权期限 2026-03-01 至 2026-12-31，每月限额¥200.00' ('' when open-ended without a cap)."""
    parts = []
    if member.starts_on or member.ends_on:
        start = member.starts_on.isoformat() if member.starts_on else "即日起"
        end = member.ends_on.isoformat() if member.ends_on else "长期"
        parts.append(f"授权期限 {start} 至 {end}")
    if member.monthly_cap_fen:
        parts.append(f"每月限额¥{yuan(member.monthly_cap_fen)}")
    return "，".join(parts)


# --- the 家庭共济告知书 -----------------------------------------------------------------------

@lru_cache(maxsize=8)
def _notice_source(version: str) -> str:
    path = CONTENT / f"aid_notice_{version}.md"
    if not path.is_file():
        raise RuntimeError(f"missing content file {path.name}")
    return path.read_text(encoding="utf-8")


def notice_text(owner: InsuredPerson, version: str | None = None) -> str:
    """The 家庭共济告知书 (the policy's version) with the owner's policy numbers filled in."""
    rules = rules_for(owner)
    children = (f"，其中子女最多{rules.max_children}名" if rules.max_children else "")
    window = []
    if rules.authorisation_window:
        window.append("；您可以为每名成员设置授权起止日期，期限外的费用由其本人支付")
    if rules.monthly_cap_allowed:
        window.append("；您可以为每名成员设置每月限额，超出部分由其本人支付")
    return _notice_source(version or rules.notice_version).format(
        insurance_types="、".join(INSURANCE_TYPES.get(t, t) for t in rules.insurance_types),
        relations="、".join(relation_label(r) for r in rules.relations),
        province=province_name(province_of(owner.region_code)) if rules.same_province
        else "全国范围内",
        max_members=rules.max_members,
        children_rule=children,
        self_confirm_age=rules.self_confirm_age,
        window_rule="".join(window),
    )
