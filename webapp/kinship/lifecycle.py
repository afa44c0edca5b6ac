"""亲情账户 after a binding exists: answering invitations, ending, expiring, turning 16.

State changes (DESIGN.md): 待确认 → 已绑定 (accepted) / 已拒绝 (declined) / 已过期 (expire_due);
待审核 → (review, elsewhere); 已绑定 → 已解除 (end_binding by holder or member, or the system
when a relative who turned 16 did not confirm in time). A holder withdrawing a 待确认/待审核
request also ends it (已解除); a relative ending a 待确认 one declines it (已拒绝).

Turning 16: a child bound before ``kinship.self_confirm_age`` keeps the binding (still
``active``, so codes keep working) when they reach that age, but ``self_confirm_due`` is set to
the birthday plus ``kinship.turning_age_grace_days`` and an invitation (valid until the end of
that day) asks them to confirm; the holder sees 待本人确认. Accepting clears the due date;
declining, or letting the day pass, ends the binding.

The kinship invitation handler (kind ``kinship``, face purpose ``kinship_accept``) is registered
with ``webapp.invitations.services`` when this module is imported.

Every change adds an audit row and a message to both sides, in the same transaction.
``housekeeping(person)`` runs the cheap, person-scoped sweeps when a page loads; the CLI
(``flask --app webapp kinship expire|sweep``) runs them for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm.exc import StaleDataError

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import SYSTEM, Actor
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db
from webapp.idnumber import date_turning
from webapp.invitations import services as invitations
from webapp.invitations.services import InvitationGone, InvitationHandler, Offer
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import InsuredPerson, Invitation, KinshipBinding, User
from webapp.policy import default_table, policy_for, relation_label

KIND = "kinship"
FACE_PURPOSE = "kinship_accept"
ENDED_BY = ("holder", "member", "system")
MSG_CHANGED = "绑定状态已变化，请刷新页面后重试"
MSG_FINISHED = "该绑定已结束，无需再操作"
MSG_TARGET_GONE = "该绑定已结束，邀请已失效"
MSG_NOT_FOUND = "该绑定不存在或您无权查看"


# --- links and words ----------------------------------------------------------------------

def member_link(binding: KinshipBinding) -> str:
    """The holder's page of the binding."""
    return messages.page("family.member", public_id=binding.public_id)


def bound_me_link() -> str:
    """The relative's 绑定我的人 page."""
    return messages.page("family.bound_me")


def invitation_link(inv: Invitation) -> str:
    """The invitee's own link to an invitation (needs their login; no token in it)."""
    return messages.page("invite.view", public_id=inv.public_id)


def _names(binding: KinshipBinding) -> tuple[str, str, str]:
    """(masked holder, masked member, relation label)."""
    return mask_name(binding.holder.name), mask_name(binding.member.name), \
        relation_label(binding.relation)


def rules_of(binding: KinshipBinding):
    """The kinship policy that governs the binding (its region at creation)."""
    return policy_for(binding.region_code).kinship


# --- small helpers ------------------------------------------------------------------------

def _save(binding: KinshipBinding) -> None:
    """Flush the binding; a concurrent change (version mismatch) becomes a Conflict."""
    try:
        db.session.flush()
    except StaleDataError as err:
        db.session.rollback()
        raise Conflict(MSG_CHANGED, code="changed") from err


def _revoke_open(binding: KinshipBinding, actor: Actor, reason: str) -> None:
    """Revoke every invitation of the binding that could still be answered."""
    for inv in invitations.open_for(KIND, binding.id):
        invitations.revoke(inv, None, actor, reason=reason)


def _close(binding: KinshipBinding, status: str, by: str) -> None:
    binding.status = status
    binding.ended_at = clock.now()
    binding.ended_by = by
    binding.self_confirm_due = None


def _notify(binding: KinshipBinding, holder_msg: tuple[str, str], member_msg: tuple[str, str],
            category: str = "binding", member_url: str | None = None) -> None:
    """One message to each side (holder: the member page; member: 绑定我的人 or given)."""
    messages.send(binding.holder, *holder_msg, category=category, link=member_link(binding))
    messages.send(binding.member, *member_msg, category=category,
                  link=bound_me_link() if member_url is None else member_url)


# --- the invitation handler ---------------------------------------------------------------

def binding_of(inv: Invitation) -> KinshipBinding:
    """The binding an invitation confirms."""
    binding = db.session.get(KinshipBinding, inv.target_id)
    if binding is None:
        raise NotFound(invitations.MSG_UNKNOWN, code="unknown")
    return binding


def self_confirm_expiry(binding: KinshipBinding) -> datetime | None:
    """A self-confirmation invitation stays valid to the end of the due day (China time);
    None for an ordinary invitation (the policy's valid_hours)."""
    if binding.status == "active" and binding.self_confirm_due is not None:
        return clock.china_midnight_utc(binding.self_confirm_due + timedelta(days=1))
    return None


def awaits_member(binding: KinshipBinding) -> bool:
    """Whether the binding waits for the relative's own confirmation."""
    return binding.status == "pending_confirm" or (
        binding.status == "active" and binding.self_confirm_due is not None
    )


class KinshipInvitations(InvitationHandler):
    """Invitations that confirm a 亲情账户 binding (new, or after turning 16)."""

    kind = KIND
    face_purpose = FACE_PURPOSE

    def offer(self, inv: Invitation) -> Offer:
        binding = binding_of(inv)
        holder, _, relation = _names(binding)
        meaning = (
            f"{holder}可以在就医、购药时代您出示医保码。",
            "费用由您本人的医保账户支付，对方可以查看您的医保消费记录。",
            "您可以随时在“家庭 › 绑定我的人”中解除绑定。",
        )
        if binding.status == "active" and binding.self_confirm_due is not None:
            age = rules_of(binding).self_confirm_age
            return Offer(
                title="亲情账户本人确认",
                inviter=holder,
                relation=f"您是{holder}的{relation}",
                meaning=(
                    f"您年满{age}周岁前，{holder}已为您绑定亲情账户；现在需要您本人确认。",
                    f"请在{binding.self_confirm_due.isoformat()}前确认，逾期未确认绑定将自动解除。",
                    *meaning,
                ),
                accept_label="确认并进行人脸识别",
                invite_line="请您确认亲情账户绑定",
            )
        return Offer(title="亲情账户绑定邀请", inviter=holder,
                     relation=f"您是{holder}的{relation}", meaning=meaning)

    def check_open(self, inv: Invitation) -> None:
        if not awaits_member(binding_of(inv)):
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")

    def accepted(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        binding = binding_of(inv)
        holder, member, relation = _names(binding)
        if binding.status == "pending_confirm":
            binding.status = "active"
            binding.bound_at = clock.now()
            event = "accepted"
        elif binding.status == "active" and binding.self_confirm_due is not None:
            binding.self_confirm_due = None
            event = "self_confirmed"
        else:
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")
        _save(binding)
        audit.record("kinship.accepted", actor, target=binding, person=person,
                     detail={"event": event, "invitation": inv.public_id})
        if event == "accepted":
            _notify(binding,
                    (f"{member}已同意绑定",
                     f"{member}（{relation}）已确认亲情账户绑定，您现在可以代其出示医保码。"),
                    ("您已确认亲情账户绑定",
                     f"您已同意{holder}代您出示医保码，费用由您本人的医保账户支付。"
                     "如需解除，可在“绑定我的人”中操作。"))
        else:
            _notify(binding,
                    (f"{member}已本人确认绑定",
                     f"{member}（{relation}）已本人确认亲情账户绑定，绑定继续有效。"),
                    ("您已确认亲情账户绑定",
                     f"您已本人确认{holder}的亲情账户绑定，对方可继续代您出示医保码。"
                     "如需解除，可在“绑定我的人”中操作。"))

    def declined(self, inv: Invitation, person: InsuredPerson, actor: Actor) -> None:
        binding = binding_of(inv)
        holder, member, relation = _names(binding)
        if binding.status == "pending_confirm":
            _close(binding, "declined", "member")
            event = "declined"
        elif binding.status == "active" and binding.self_confirm_due is not None:
            _close(binding, "ended", "member")
            event = "self_confirm_declined"
        else:
            raise InvitationGone(MSG_TARGET_GONE, code="target_gone")
        _save(binding)
        audit.record("kinship.declined", actor, target=binding, person=person,
                     detail={"event": event, "invitation": inv.public_id})
        if event == "declined":
            _notify(binding,
                    (f"{member}拒绝了绑定邀请",
                     f"{member}（{relation}）拒绝了您的亲情账户绑定邀请，绑定未生效。"),
                    ("您已拒绝绑定邀请", f"您已拒绝{holder}的亲情账户绑定邀请。"))
        else:
            _notify(binding,
                    (f"{member}未同意继续绑定",
                     f"{member}（{relation}）本人未同意继续亲情账户绑定，绑定已解除，"
                     "您已不能代其出示医保码。"),
                    ("您已解除亲情账户绑定",
                     f"您未同意继续{holder}的亲情账户绑定，绑定已解除。"))

    def resent(self, old: Invitation, new: Invitation, actor: Actor) -> None:
        binding = binding_of(new)
        holder, member, relation = _names(binding)
        until = clock.china_time(new.expires_at)
        _notify(binding,
                ("已重新发送邀请",
                 f"已为{member}（{relation}）生成新的邀请链接，原链接已失效。新链接{until}前有效。"),
                (f"{holder}再次邀请您确认亲情账户绑定",
                 f"{holder}重新发送了亲情账户绑定邀请（您是对方的{relation}），"
                 f"请在{until}前完成人脸识别并确认或拒绝。"),
                category="invitation", member_url=invitation_link(new))

    def expires_at(self, inv: Invitation) -> datetime | None:
        return self_confirm_expiry(binding_of(inv))

    def done_url(self, inv: Invitation, outcome: str) -> str:
        return bound_me_link()


HANDLER = invitations.register_handler(KinshipInvitations())


def accept(ref: Invitation | str, user: Any, actor: Actor) -> KinshipBinding:
    """The relative accepts (face pass of purpose ``kinship_accept`` required); committed."""
    return binding_of(invitations.accept(ref, user, actor))


def decline(ref: Invitation | str, user: Any, actor: Actor) -> KinshipBinding:
    """The relative declines; committed."""
    return binding_of(invitations.decline(ref, user, actor))


# --- ending -------------------------------------------------------------------------------

def _binding_for_user(user: User, public_id: str) -> tuple[KinshipBinding, str]:
    """The binding named by public id where the user is the holder or the member (404 else)."""
    person_id = getattr(user, "person_id", None)
    binding = db.session.scalar(select(KinshipBinding).where(KinshipBinding.public_id == public_id))
    if binding is None or person_id is None:
        raise NotFound(MSG_NOT_FOUND)
    if binding.holder_person_id == person_id:
        return binding, "holder"
    if binding.member_person_id == person_id:
        return binding, "member"
    raise NotFound(MSG_NOT_FOUND)


def end_binding(binding: KinshipBinding | User, by: str, actor: Actor,
                expect: str | None = None) -> KinshipBinding:
    """End a binding (已绑定 → 已解除) or withdraw/refuse a pending one; committed.

    ``by`` is 'holder', 'member' or 'system'. Active → ended. 待确认: the holder withdrawing
    → ended (its invitation revoked), the member → declined. 待审核: withdrawn → ended.
    Also callable as ``end_binding(user, public_id, actor)``: the binding is loaded for that
    user (404 unless holder or member) and ``by`` follows from their side.
    The caller has authorised the actor for ``by`` (the views' loaders do). ``expect`` is the
    status the person saw: if it changed meanwhile (say the relative accepted while the holder
    pressed 撤回邀请) nothing happens and a Conflict says so.
    """
    if isinstance(binding, User):
        binding, by = _binding_for_user(binding, by)
    if by not in ENDED_BY:
        raise ValueError(f"unknown side {by!r}")
    if expect and binding.status != expect:
        raise Conflict(MSG_CHANGED, code="changed")
    holder, member, relation = _names(binding)
    was = binding.status
    if was == "active":
        status, action = "ended", "kinship.ended"
    elif was == "pending_confirm":
        status = "declined" if by == "member" else "ended"
        action = "kinship.declined" if by == "member" else "kinship.cancelled"
    elif was == "pending_review":
        status, action = "ended", "kinship.cancelled"
    else:
        raise Conflict(MSG_FINISHED, code="finished")
    # Lock order: invitation rows first, then the binding (as accepting does), so that a
    # concurrent acceptance and this cannot deadlock; the loser sees a Conflict.
    _revoke_open(binding, actor, reason=f"binding_{status}")
    _close(binding, status, by)
    _save(binding)
    audit.record(action, actor, target=binding,
                 person=binding.member if by != "member" else binding.holder,
                 detail={"by": by, "from": was, "to": binding.status})
    if was == "active" and by == "holder":
        _notify(binding,
                (f"已解除与{member}的绑定", f"您已解除与{member}（{relation}）的亲情账户绑定，"
                 "已不能代其出示医保码。"),
                (f"{holder}已解除与您的绑定", f"{holder}已解除与您的亲情账户绑定，"
                 "对方已不能代您出示医保码。"))
    elif was == "active" and by == "member":
        _notify(binding,
                (f"{member}已解除与您的绑定", f"{member}（{relation}）已在“绑定我的人”中解除"
                 "亲情账户绑定，您已不能代其出示医保码。"),
                (f"您已解除与{holder}的绑定", f"您已解除与{holder}的亲情账户绑定，"
                 "对方已不能代您出示医保码。"))
    elif was == "active":
        _notify(binding,
                (f"与{member}的绑定已解除", f"您与{member}（{relation}）的亲情账户绑定已解除。"),
                ("亲情账户绑定已解除", f"{holder}与您的亲情账户绑定已解除。"))
    elif by == "member":
        _notify(binding,
                (f"{member}拒绝了绑定邀请", f"{member}（{relation}）拒绝了您的亲情账户绑定邀请，"
                 "绑定未生效。"),
                ("您已拒绝绑定邀请", f"您已拒绝{holder}的亲情账户绑定邀请。"))
    else:
        what = "邀请" if was == "pending_confirm" else "添加申请"
        _notify(binding,
                (f"已撤回对{member}的{what}", f"您已撤回添加{member}（{relation}）为家庭成员的{what}。"),
                (f"{holder}已撤回{what}", f"{holder}已撤回将您添加为亲情账户家庭成员的{what}。"))
    db.session.commit()
    return binding


def resend_invitation(binding: KinshipBinding, holder: InsuredPerson,
                      actor: Actor) -> tuple[Invitation, str]:
    """A fresh link for a binding that waits for the relative (the old link stops working).

    Returns the new invitation and its raw token (for the holder to share); committed.
    """
    if binding.holder_person_id != holder.id:
        raise NotFound(MSG_NOT_FOUND)
    if not awaits_member(binding):
        raise Conflict("该绑定无需对方确认", code="not_waiting")
    latest = invitations.latest_for(KIND, binding.id)
    if latest is None or latest.used_at is not None:
        # A binding that waits always has an unanswered invitation; make one if it vanished.
        inv, raw = invitations.create(KIND, binding.id, holder, binding.member, actor,
                                      expires_at=self_confirm_expiry(binding))
        HANDLER.resent(inv, inv, actor)
        db.session.commit()
        return inv, raw
    if latest.expires_at <= clock.now() and binding.status == "pending_confirm":
        raise InvitationGone("邀请已过期，绑定未生效；如需绑定请重新添加", code="expired")
    return invitations.resend(latest, holder, actor)


# --- expiry -------------------------------------------------------------------------------

def _scoped(query, holder: InsuredPerson | None, member: InsuredPerson | None):
    if holder is not None:
        query = query.where(KinshipBinding.holder_person_id == holder.id)
    if member is not None:
        query = query.where(KinshipBinding.member_person_id == member.id)
    return query


def _invitation_of_binding(*conditions):
    return exists().where(Invitation.kind == KIND, Invitation.target_id == KinshipBinding.id,
                          *conditions)


def expire_due(now: datetime | None = None, holder: InsuredPerson | None = None,
               member: InsuredPerson | None = None) -> int:
    """待确认 bindings whose invitation expired unanswered → 已过期 (each committed on its own,
    so a concurrent change skips one binding and not the run). Returns how many."""
    now = now or clock.now()
    query = _scoped(
        select(KinshipBinding.id).where(
            KinshipBinding.status == "pending_confirm",
            ~_invitation_of_binding(Invitation.used_at.is_(None), Invitation.revoked_at.is_(None),
                                    Invitation.expires_at > now),
            _invitation_of_binding(Invitation.used_at.is_(None), Invitation.expires_at <= now),
        ),
        holder, member,
    ).order_by(KinshipBinding.id)
    done = 0
    for binding_id in db.session.scalars(query).all():
        binding = db.session.get(KinshipBinding, binding_id)
        if binding is None or binding.status != "pending_confirm":
            continue
        try:
            _close(binding, "expired", "system")
            _save(binding)
        except Conflict:
            continue
        holder_name, member_name, relation = _names(binding)
        audit.record("kinship.expired", SYSTEM, target=binding, person=binding.member)
        _notify(binding,
                ("邀请已过期", f"您邀请{member_name}（{relation}）的链接已过期，对方未确认，"
                 "绑定未生效。如需绑定，请重新添加。"),
                ("绑定邀请已过期", f"{holder_name}邀请您成为亲情账户家庭成员的链接已过期，绑定未生效。"))
        db.session.commit()
        done += 1
    return done


# --- turning 16 ---------------------------------------------------------------------------

@dataclass
class SweepResult:
    """What a turning-age sweep did."""

    asked: int = 0
    ended: int = 0


def _youngest_confirm_age() -> int:
    table = default_table()
    ages = {table.default.kinship.self_confirm_age}
    ages |= {p.kinship.self_confirm_age for p in table.profiles.values()}
    return min(ages)


def turning_date(binding: KinshipBinding) -> date:
    """The day the member reaches the binding policy's self-confirm age."""
    return date_turning(binding.member.birth_date, rules_of(binding).self_confirm_age)


def needs_self_confirm(binding: KinshipBinding, today: date) -> bool:
    """Active, created before the member's 16th birthday, which has come (no confirmation
    asked yet and never confirmed through an invitation: the caller's query checks those)."""
    birthday = turning_date(binding)
    return birthday <= today and clock.to_china(binding.created_at).date() < birthday


def _ask(binding: KinshipBinding, today: date) -> bool:
    rules = rules_of(binding)
    birthday = turning_date(binding)
    due = max(birthday + timedelta(days=rules.turning_age_grace_days), today)
    binding.self_confirm_due = due
    try:
        _save(binding)
    except Conflict:
        return False
    inv, _ = invitations.create(KIND, binding.id, binding.holder, binding.member, SYSTEM,
                                expires_at=clock.china_midnight_utc(due + timedelta(days=1)))
    holder, member, relation = _names(binding)
    audit.record("kinship.self_confirm_requested", SYSTEM, target=binding, person=binding.member,
                 detail={"due": due.isoformat(), "age": rules.self_confirm_age})
    _notify(binding,
            (f"{member}已满{rules.self_confirm_age}周岁，需本人确认",
             f"{member}（{relation}）已年满{rules.self_confirm_age}周岁，需在{due.isoformat()}前"
             "本人确认亲情账户绑定。确认前您仍可代其出示医保码；逾期未确认，绑定将自动解除。"
             "您可以在家庭成员详情中重新发送邀请链接给对方。"),
            ("请确认亲情账户绑定",
             f"您已年满{rules.self_confirm_age}周岁。{holder}为您绑定的亲情账户需要您本人确认，"
             f"请在{due.isoformat()}前登录并完成人脸识别后确认；逾期未确认，绑定将自动解除。"),
            category="invitation", member_url=invitation_link(inv))
    db.session.commit()
    return True


def _lapse(binding: KinshipBinding) -> bool:
    due = binding.self_confirm_due
    _revoke_open(binding, SYSTEM, reason="self_confirm_lapsed")  # invitation rows first
    _close(binding, "ended", "system")
    try:
        _save(binding)
    except Conflict:
        return False
    holder, member, relation = _names(binding)
    audit.record("kinship.ended", SYSTEM, target=binding, person=binding.member,
                 detail={"by": "system", "reason": "self_confirm_lapsed",
                         "due": due.isoformat() if due else ""})
    _notify(binding,
            (f"与{member}的绑定已自动解除",
             f"{member}（{relation}）未在{due}前本人确认，亲情账户绑定已自动解除，"
             "您已不能代其出示医保码。如需继续，请重新添加。"),
            ("亲情账户绑定已自动解除",
             f"您未在{due}前确认{holder}的亲情账户绑定，绑定已自动解除。"))
    db.session.commit()
    return True


def sweep_turning_age(today: date | None = None, holder: InsuredPerson | None = None,
                      member: InsuredPerson | None = None) -> SweepResult:
    """Ask relatives who turned 16 to confirm, and end the bindings whose due date passed.

    Each binding is its own transaction. Scoped to a holder/member when given (page loads).
    """
    today = today or clock.today()
    result = SweepResult()
    youngest = _youngest_confirm_age()
    born_by = date(today.year - youngest, 12, 31)
    candidates = _scoped(
        select(KinshipBinding.id)
        .join(InsuredPerson, InsuredPerson.id == KinshipBinding.member_person_id)
        .where(
            KinshipBinding.status == "active",
            KinshipBinding.self_confirm_due.is_(None),
            InsuredPerson.birth_date <= born_by,
            ~_invitation_of_binding(Invitation.outcome == "accepted"),
        ),
        holder, member,
    ).order_by(KinshipBinding.id)
    for binding_id in db.session.scalars(candidates).all():
        binding = db.session.get(KinshipBinding, binding_id)
        if (binding is not None and binding.status == "active"
                and binding.self_confirm_due is None and needs_self_confirm(binding, today)):
            result.asked += _ask(binding, today)
    lapsed = _scoped(
        select(KinshipBinding.id).where(KinshipBinding.status == "active",
                                        KinshipBinding.self_confirm_due < today),
        holder, member,
    ).order_by(KinshipBinding.id)
    for binding_id in db.session.scalars(lapsed).all():
        binding = db.session.get(KinshipBinding, binding_id)
        if binding is not None and binding.status == "active" and binding.self_confirm_due \
                and binding.self_confirm_due < today:
            result.ended += _lapse(binding)
    return result


def housekeeping(person: InsuredPerson) -> None:
    """The cheap sweeps for one person's bindings (both sides), run when their pages load.

    A concurrent change only skips this round; nothing here may break the page.
    """
    try:
        expire_due(holder=person)
        expire_due(member=person)
        sweep_turning_age(holder=person)
        sweep_turning_age(member=person)
    except (DomainError, StaleDataError):
        db.session.rollback()
