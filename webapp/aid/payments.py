"""家庭共济 at the counter: who pays for a member (the settlement seam; the owner's 消费明细 is
in ``webapp.aid.spending``).

``payer_for(patient, remaining_fen, at)`` is what ``webapp.codes.settlement.aid_payer``
asks. It reads only (settle calls it once to learn which account to lock and once more
after the locks are held, so the second answer sees every payment committed meanwhile):

* the patient's open memberships that are 已生效, oldest first, in active groups;
* the owner insured, active, of an insurance type the owner's policy allows; the patient in
  the owner's province where the policy says so;
* the authorisation window (Jiangsu) covers the China date of ``at``;
* the monthly cap (Jiangsu) minus what the owner's account already paid for this patient in
  that China month is left;
* the owner's account has a balance.

The first membership passing all of these names the payer and the most it allows (settle
then caps by the locked balance). Anything else — outside the window, over the cap, a zero
balance — pays nothing, so the rest falls through to self-pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, select
from sqlalchemy.orm import contains_eager

from webapp import clock
from webapp.aid.rules import rules_for
from webapp.aid.states import AidGroupStatus, AidMemberStatus
from webapp.codes.records import month_start, next_month
from webapp.codes.states import SettlementStatus
from webapp.extensions import db
from webapp.models import AidGroup, AidMember, InsuredPerson, PersonalAccount, Settlement
from webapp.regions import province_of


@dataclass(frozen=True)
class Payer:
    """The owner whose account pays, the account, and the most allowed for this purchase."""

    owner: InsuredPerson
    account: PersonalAccount
    allowed_fen: int
    member: AidMember


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """The naive-UTC bounds of the China calendar month of ``day``."""
    first = month_start(day)
    return clock.china_midnight_utc(first), clock.china_midnight_utc(next_month(first))


def paid_in_month(owner: InsuredPerson, patient: InsuredPerson, day: date) -> int:
    """Fen the owner's account paid for the patient in the China month of ``day``."""
    start, end = month_bounds(day)
    return int(db.session.scalar(
        select(func.coalesce(func.sum(Settlement.aid_fen), 0)).where(
            Settlement.person_id == patient.id, Settlement.aid_owner_person_id == owner.id,
            Settlement.status == SettlementStatus.SETTLED,
            Settlement.created_at >= start, Settlement.created_at < end)
    ) or 0)


def _owner_may_pay(owner: InsuredPerson, patient: InsuredPerson) -> bool:
    rules = rules_for(owner)
    if not owner.is_active or owner.insurance_type not in rules.insurance_types:
        return False
    if rules.same_province and province_of(patient.region_code) != province_of(owner.region_code):
        return False
    return True


def _in_force() -> ColumnElement[bool]:
    """A membership that counts at the counter: 已生效 (not invited, left or removed)."""
    return AidMember.status == AidMemberStatus.ACTIVE


def may_be_member() -> ColumnElement[bool]:
    """Whether the person being loaded has any membership in force: an EXISTS for a statement
    that loads a patient (``with_expression(InsuredPerson.in_aid_group, …)``). False lets
    ``payer_for`` answer without its query (which also checks the group and its owner); the POS
    paths load the patient this way, so a patient outside every group — most of them — costs
    verify and settle no statement for 家庭共济."""
    return exists().where(AidMember.person_id == InsuredPerson.id, _in_force())


@cache
def _memberships() -> Select:
    """A patient's (``patient_id``) open memberships in active groups of another owner, oldest
    first, each with its group, the owner and the owner's account: one statement, built once
    (settle asks it twice, verify once)."""
    return (
        select(AidMember)
        .join(AidGroup, AidGroup.id == AidMember.group_id)
        .join(InsuredPerson, InsuredPerson.id == AidGroup.owner_person_id)
        .outerjoin(PersonalAccount, PersonalAccount.person_id == InsuredPerson.id)
        .options(contains_eager(AidMember.group).contains_eager(AidGroup.owner)
                 .contains_eager(InsuredPerson.account))
        .where(AidMember.person_id == bindparam("patient_id"),
               _in_force(),
               AidGroup.status == AidGroupStatus.ACTIVE,
               AidGroup.owner_person_id != bindparam("patient_id"))
        .order_by(AidMember.joined_at, AidMember.id)
    )


def payer_for(patient: InsuredPerson, remaining_fen: int, at: datetime) -> Payer | None:
    """Whose account pays (part of) ``remaining_fen`` for the patient at ``at``; side-effect free."""
    if remaining_fen <= 0 or patient.in_aid_group is False:  # loaded: in force nowhere
        return None
    day = clock.to_china(at).date()
    memberships = db.session.scalars(_memberships(), {"patient_id": patient.id}).all()
    for member in memberships:
        owner = member.group.owner
        if not member.covers(day) or not _owner_may_pay(owner, patient):
            continue
        account = owner.account
        if account is None or account.balance_fen <= 0:
            continue
        allowed = remaining_fen
        if member.monthly_cap_fen is not None:
            left = member.monthly_cap_fen - paid_in_month(owner, patient, day)
            if left <= 0:
                continue
            allowed = min(allowed, left)
        return Payer(owner, account, allowed, member)
    return None
