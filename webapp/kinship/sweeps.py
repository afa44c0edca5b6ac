"""The 亲情账户 sweeps a scheduler runs (``flask housekeeping``), never a page.

``expire_due``: 待确认 bindings whose invitation expired unanswered → 已过期.
``sweep_turning_age``: a child bound before ``kinship.self_confirm_age`` keeps the binding
(still 已绑定, so codes keep working) when they reach that age, but ``self_confirm_due`` is set
to the birthday plus ``kinship.turning_age_grace_days`` and an invitation (valid until the end
of that day) asks them to confirm; accepting clears the date, letting it pass ends the binding.
``sweep`` runs both. Each binding is its own transaction: a concurrent change skips one binding,
not the run. Until a sweep runs, pages read the same outcome (``webapp.kinship.queries``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from webapp import clock
from webapp.audit.services import SYSTEM as SYSTEM_ACTOR
from webapp.domain import Conflict
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.invitations.models import Invitation
from webapp.invitations.states import InvitationOutcome
from webapp.kinship.models import KinshipBinding
from webapp.kinship.queries import (
    confirmation_lapsed,
    invitation_lapsed,
    invitation_of_binding,
    needs_asking,
    self_confirm_due_for,
)
from webapp.kinship.states import SYSTEM, BindingStatus
from webapp.kinship.steps import KIND, apply, rules_of
from webapp.models import InsuredPerson
from webapp.policy import current_table


@dataclass
class SweepResult:
    """What a sweep did."""

    asked: int = 0
    ended: int = 0
    expired: int = 0


def _each(ids: list[int], still: Callable[[KinshipBinding], bool],
          step: Callable[[KinshipBinding], bool]) -> int:
    """Run ``step`` on each binding that still qualifies; count the ones it changed."""
    done = 0
    for binding_id in ids:
        binding = db.session.get(KinshipBinding, binding_id)
        if binding is None or not still(binding):
            continue
        try:
            done += bool(step(binding))
        except Conflict:
            db.session.rollback()
    return done


def expire_due(now: datetime | None = None) -> int:
    """待确认 bindings whose invitation expired unanswered → 已过期. Returns how many."""
    now = now or clock.now()
    ids = list(db.session.scalars(select(KinshipBinding.id).where(invitation_lapsed(now))
                                  .order_by(KinshipBinding.id)))

    def expire(binding: KinshipBinding) -> bool:
        """One binding → 已过期, committed."""
        apply(binding, "expire", SYSTEM, SYSTEM_ACTOR)
        db.session.commit()
        return True

    return _each(ids, lambda b: b.status == BindingStatus.PENDING_CONFIRM, expire)


def ask(binding: KinshipBinding, today: date) -> tuple[Invitation, str] | None:
    """Ask the relative who turned 16 to confirm (an invitation to the end of the due day);
    committed. Returns the invitation and its raw token (None if the binding changed)."""
    rules = rules_of(binding)
    due = self_confirm_due_for(binding, today)
    inv, raw = invitations.create(KIND, binding.id, binding.holder, binding.member, SYSTEM_ACTOR,
                                  expires_at=clock.china_midnight_utc(due + timedelta(days=1)))
    try:
        apply(binding, "ask_self_confirm", SYSTEM, SYSTEM_ACTOR, invitation=inv,
              changes={"self_confirm_due": due},
              detail={"due": due.isoformat(), "age": rules.self_confirm_age},
              words={"due": due.isoformat(), "age": rules.self_confirm_age})
    except Conflict:
        return None
    db.session.commit()
    return inv, raw


def lapse(binding: KinshipBinding) -> bool:
    """End a binding whose relative did not confirm by the due date; committed."""
    due = binding.self_confirm_due
    apply(binding, "lapse", SYSTEM, SYSTEM_ACTOR, reason="self_confirm_lapsed",
          detail={"by": SYSTEM, "reason": "self_confirm_lapsed",
                  "due": due.isoformat() if due else ""},
          words={"due": due})
    db.session.commit()
    return True


def _youngest_confirm_age() -> int:
    table = current_table()
    ages = {table.default.kinship.self_confirm_age}
    ages |= {p.kinship.self_confirm_age for p in table.profiles.values()}
    return min(ages)


def sweep_turning_age(today: date | None = None) -> SweepResult:
    """Ask relatives who turned 16 to confirm, and end the bindings whose due date passed."""
    today = today or clock.today()
    result = SweepResult()
    born_by = date(today.year - _youngest_confirm_age(), 12, 31)
    candidates = list(db.session.scalars(
        select(KinshipBinding.id)
        .join(InsuredPerson, InsuredPerson.id == KinshipBinding.member_person_id)
        .where(
            KinshipBinding.status == BindingStatus.ACTIVE,
            KinshipBinding.self_confirm_due.is_(None),
            InsuredPerson.birth_date <= born_by,
            ~invitation_of_binding(Invitation.outcome == InvitationOutcome.ACCEPTED),
        ).order_by(KinshipBinding.id)))
    result.asked = _each(candidates, lambda b: needs_asking(b, today),
                         lambda b: ask(b, today) is not None)
    lapsed = list(db.session.scalars(select(KinshipBinding.id).where(confirmation_lapsed(today))
                                     .order_by(KinshipBinding.id)))
    result.ended = _each(
        lapsed, lambda b: b.status == BindingStatus.ACTIVE and b.self_confirm_due is not None
        and b.self_confirm_due < today, lapse)
    return result


def sweep(now: datetime | None = None) -> SweepResult:
    """Every 亲情账户 sweep (expiry, then turning 16) as of ``now`` — for ``flask housekeeping``."""
    now = now or clock.now()
    expired = expire_due(now)
    result = sweep_turning_age(clock.to_china(now).date())
    result.expired = expired
    return result
