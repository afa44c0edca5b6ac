"""注销账户: end every relation through its own aggregate, then close the login.

What happens, in order (the page says the same before the user confirms):
1. the password is checked and the confirmation ticked (nothing changes otherwise);
2. every open 亲情账户 binding ends — as holder (已绑定 → 已解除, a pending request withdrawn)
   and as the bound relative (ended, or the invitation / request refused) — through
   ``webapp.kinship.lifecycle.end_binding``, so both sides get its usual message and audit row;
3. the 家庭共济 group the person owns: every open member removed through
   ``webapp.aid.services.remove_member`` (each told), then the group closed (已关闭);
   every place in someone else's group left through ``webapp.aid.services.leave``;
4. each person on the other side gets one more message saying the account was closed;
5. the account is marked 已注销 (login refused with its own message), every server-side
   session of it is deleted, and an ``account.closed`` audit row is written.

Ledger entries, settlements, consents, messages and audit rows are kept (医疗保障基金使用监督
管理条例 and the accounting-archive rules require the records of fund use to be kept); the
registry person is not the account and stays. Each relation ends in its own committed step
(as the user ending it by hand would); a step refused because the relation changed
meanwhile is re-read, and the account closes only once nothing is left open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp import clock
from webapp.accounts import notices
from webapp.accounts.models import User
from webapp.accounts.queries import ClosurePreview, closure_preview
from webapp.accounts.states import AccountStatus
from webapp.aid import services as aid
from webapp.aid.states import OWNER, AidGroupStatus
from webapp.aid.steps import expire_stale, lock_group
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.codes.services import revoke_issued_by
from webapp.domain import Conflict, DomainError, Forbidden, command
from webapp.extensions import db
from webapp.kinship.lifecycle import end_binding
from webapp.kinship.states import HOLDER, MEMBER
from webapp.masking import mask_phone
from webapp.models import AidGroup
from webapp.sessions import end_user_sessions

MSG_CONFIRM = "请勾选确认您已了解注销后果"
MSG_WRONG_PASSWORD = "密码错误，请重新输入"
MSG_ALREADY_CLOSED = "该账户已注销"
MSG_STAFF = "工作人员账户请联系管理员注销"
MSG_LEFT_OPEN = "部分绑定或共济关系刚刚发生变化，请刷新页面后重试"


@dataclass(frozen=True)
class ClosureResult:
    """What closing ended (counts for the audit row and the goodbye page)."""

    bindings: int
    members_removed: int
    groups_closed: int
    memberships_left: int
    told: int


def _check(user: User, password: str, confirmed: bool, actor: Actor) -> None:
    if user.status == AccountStatus.CLOSED:
        raise Conflict(MSG_ALREADY_CLOSED, code="closed")
    if user.person is None:
        raise Forbidden(MSG_STAFF, code="staff")
    if not user.check_password(password or ""):
        audit.record("account.close_refused", actor, target=user, person=user.person,
                     label=mask_phone(user.phone), detail={"reason": "wrong_password"})
        db.session.commit()
        raise DomainError(MSG_WRONG_PASSWORD, field="password", code="wrong_password")
    if not confirmed:
        raise DomainError(MSG_CONFIRM, field="confirm", code="confirm")


def _quietly(step, *args) -> bool:
    """Run one ending command; a relation that changed meanwhile is left to the re-read."""
    try:
        step(*args)
    except Conflict:
        db.session.rollback()
        return False
    return True


def _close_group(group: AidGroup, actor: Actor) -> None:
    """Close the owner's group once its open members are gone (stale invitations expire)."""
    locked = lock_group(group.owner, OWNER)
    expire_stale(locked, actor)
    locked.status = AidGroupStatus.CLOSED
    locked.closed_at = clock.now()
    audit.record("aid.group_closed", actor, target=locked, person=locked.owner,
                 detail={"reason": "account_closed"})
    db.session.commit()


def _end_relations(preview: ClosurePreview, actor: Actor) -> list[int]:
    """One pass over every open relation; returns the counts of what ended."""
    done = [0, 0, 0, 0]
    for binding in preview.holding:
        done[0] += _quietly(end_binding, binding, HOLDER, actor)
    for binding in preview.bound_by:
        done[0] += _quietly(end_binding, binding, MEMBER, actor)
    if preview.group is not None:
        owner = preview.group.owner
        for member in preview.group_members:
            done[1] += _quietly(aid.remove_member, owner, member, actor)
        _close_group(preview.group, actor)
        done[2] += 1
    for member in preview.memberships:
        done[3] += _quietly(aid.leave, member.person, member, actor)
    return done


@command
def close_account(user: User, password: str, confirmed: bool, actor: Actor) -> ClosureResult:
    """注销账户 (see the module text): refused with a field error on a wrong password or a
    missing confirmation; otherwise every relation ends, the account closes and all of its
    sessions end. Committed."""
    _check(user, password, confirmed, actor)
    person = user.person
    first = closure_preview(person)
    others = first.others()
    counts = _end_relations(first, actor)
    if not closure_preview(person).nothing:  # something (re)opened while we worked
        counts = [a + b for a, b in zip(counts, _end_relations(closure_preview(person), actor),
                                        strict=True)]
        if not closure_preview(person).nothing:
            raise Conflict(MSG_LEFT_OPEN, code="left_open")
    user = db.session.scalars(select(User).where(User.id == user.id).with_for_update()
                              .execution_options(populate_existing=True)).one()
    if user.status == AccountStatus.CLOSED:
        raise Conflict(MSG_ALREADY_CLOSED, code="closed")
    for other in others:
        notices.tell("closed", person, other)
    user.status = AccountStatus.CLOSED
    user.closed_at = clock.now()
    end_user_sessions(user.get_id())
    revoke_issued_by(user.id)  # a code on another screen can no longer be settled
    result = ClosureResult(bindings=counts[0], members_removed=counts[1],
                           groups_closed=counts[2], memberships_left=counts[3],
                           told=len(others))
    audit.record("account.closed", actor, target=user, person=person,
                 label=mask_phone(user.phone), detail=result.__dict__)
    db.session.commit()
    return result
