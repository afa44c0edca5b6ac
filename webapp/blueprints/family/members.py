"""亲情账户 pages: my members (family.index), one member (family.member), 绑定我的人
(family.bound_me), and their actions (解除绑定, 撤回, 重新发送邀请).

Every object access goes through one of two loaders: ``holder_binding`` (the current user is
the holder) and ``member_binding`` (the current user is the bound relative); both answer 404
for anyone else. Names and ID numbers of other people are masked in the templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import case, select
from sqlalchemy.orm import selectinload

from webapp.blueprints.family import bp
from webapp.blueprints.invite.share import invite_share
from webapp.domain import DomainError, NotFound
from webapp.extensions import db
from webapp.forms import ActionForm
from webapp.invitations import services as invitations
from webapp.kinship import lifecycle as kinship_lifecycle
from webapp.models import OPEN_STATUSES, InsuredPerson, Invitation, KinshipBinding
from webapp.policy import policy_for, relation_label
from webapp.web import current_actor, role_required

RESENT = "kinship_resent"
CLOSED_SHOWN = 20
# Status pill colour per state (待本人确认 waits too).
PILL = {
    "active": "ok",
    "pending_confirm": "wait",
    "pending_review": "wait",
    "declined": "bad",
    "rejected": "bad",
    "expired": "off",
    "ended": "off",
}


@dataclass(frozen=True)
class Row:
    """One binding as a page lists it."""

    binding: KinshipBinding
    relation: str
    pill: str
    invitation: Invitation | None = None

    @property
    def label(self) -> str:
        return self.binding.status_label


def pill(binding: KinshipBinding) -> str:
    """The status pill kind of a binding."""
    if binding.status == "active" and binding.self_confirm_due is not None:
        return "wait"
    return PILL.get(binding.status, "off")


def row(binding: KinshipBinding, with_invitation: bool = False) -> Row:
    inv = None
    if with_invitation and kinship_lifecycle.awaits_member(binding):
        found = invitations.open_for(kinship_lifecycle.KIND, binding.id)
        inv = found[-1] if found else None
    return Row(binding, relation_label(binding.relation), pill(binding), inv)


def me() -> InsuredPerson:
    """The logged-in insured person."""
    return current_user.person


# --- the two loaders ----------------------------------------------------------------------

def holder_binding(public_id: str) -> KinshipBinding:
    """A binding in which the current user is the holder (404 for anyone else)."""
    binding = db.session.scalar(select(KinshipBinding).where(
        KinshipBinding.public_id == public_id, KinshipBinding.holder_person_id == me().id))
    if binding is None:
        raise NotFound(kinship_lifecycle.MSG_NOT_FOUND)
    return binding


def member_binding(public_id: str) -> KinshipBinding:
    """A binding in which the current user is the bound relative (404 for anyone else)."""
    binding = db.session.scalar(select(KinshipBinding).where(
        KinshipBinding.public_id == public_id, KinshipBinding.member_person_id == me().id))
    if binding is None:
        raise NotFound(kinship_lifecycle.MSG_NOT_FOUND)
    return binding


def _open_first():
    return case((KinshipBinding.status.in_(OPEN_STATUSES), 0), else_=1)


# --- 亲情账户 -------------------------------------------------------------------------------

@bp.route("/")
@role_required("insured")
def index():
    """家庭 tab: 亲情账户 vs 家庭共济, my members with their states, 绑定我的人."""
    kinship_lifecycle.housekeeping(me())
    bindings = db.session.scalars(
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.member))
        .where(KinshipBinding.holder_person_id == me().id)
        .order_by(_open_first(), KinshipBinding.created_at.desc(), KinshipBinding.id.desc())
    ).all()
    open_rows = [row(b) for b in bindings if b.status in OPEN_STATUSES]
    closed_rows = [row(b) for b in bindings if b.status not in OPEN_STATUSES][:CLOSED_SHOWN]
    bound_me = db.session.scalars(select(KinshipBinding).where(
        KinshipBinding.member_person_id == me().id,
        KinshipBinding.status.in_(("active", "pending_confirm")))).all()
    waiting = sum(1 for b in bound_me if kinship_lifecycle.awaits_member(b))
    rules = policy_for(me().region_code).kinship
    return render_template(
        "family/index.html",
        open_rows=open_rows,
        closed_rows=closed_rows,
        used=len(open_rows),
        max_members=rules.max_members,
        bound_me_count=len(bound_me),
        bound_me_waiting=waiting,
    )


@bp.route("/members/<public_id>")
@role_required("insured")
def member(public_id: str):
    """One of my members: details, state and the actions that fit it."""
    kinship_lifecycle.housekeeping(me())
    binding = holder_binding(public_id)
    shared = session.pop(RESENT, None)
    share = None
    if isinstance(shared, dict) and shared.get("binding") == binding.public_id \
            and kinship_lifecycle.awaits_member(binding):
        share = invite_share(shared["token"], f"{me().name}邀请您确认医保亲情账户绑定")
    return render_template(
        "family/member.html",
        r=row(binding, with_invitation=True),
        form=ActionForm(),
        share=share,
        self_confirm_age=kinship_lifecycle.rules_of(binding).self_confirm_age,
    )


def _act(fn, *args, success: str, back: str):
    """Run one lifecycle action; a DomainError becomes a flash, then back to the page."""
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重试", "error")
        return redirect(back)
    try:
        result = fn(*args)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(back)
    flash(success, "success")
    return result


@bp.route("/members/<public_id>/end", methods=["POST"])
@role_required("insured")
def end_member(public_id: str):
    """解除绑定 (active), or 撤回 a 待确认/待审核 request."""
    binding = holder_binding(public_id)
    was = binding.status
    success = {"active": "已解除绑定", "pending_confirm": "已撤回邀请",
               "pending_review": "已撤回添加申请"}.get(was, "已处理")
    back = url_for("family.member", public_id=public_id)
    result = _act(kinship_lifecycle.end_binding, binding, "holder", current_actor(),
                  request.form.get("expect") or None, success=success, back=back)
    return result if not isinstance(result, KinshipBinding) else redirect(back)


@bp.route("/members/<public_id>/resend", methods=["POST"])
@role_required("insured")
def resend(public_id: str):
    """重新发送邀请: a fresh link (shown once on the member page); the old one stops working."""
    binding = holder_binding(public_id)
    back = url_for("family.member", public_id=public_id)
    result = _act(kinship_lifecycle.resend_invitation, binding, me(), current_actor(),
                  success="已生成新的邀请链接，原链接已失效", back=back)
    if isinstance(result, tuple):
        session[RESENT] = {"binding": binding.public_id, "token": result[1]}
        return redirect(back)
    return result


# --- 绑定我的人 -----------------------------------------------------------------------------

@bp.route("/bound-me")
@role_required("insured")
def bound_me():
    """绑定我的人: who may show my code (已绑定) or waits for my answer (待确认)."""
    kinship_lifecycle.housekeeping(me())
    bindings = db.session.scalars(
        select(KinshipBinding)
        .options(selectinload(KinshipBinding.holder))
        .where(KinshipBinding.member_person_id == me().id,
               KinshipBinding.status.in_(("active", "pending_confirm", "pending_review")))
        .order_by(KinshipBinding.created_at.desc(), KinshipBinding.id.desc())
    ).all()
    return render_template("family/bound_me.html",
                           rows=[row(b, with_invitation=True) for b in bindings],
                           form=ActionForm())


@bp.route("/bound-me/<public_id>/end", methods=["POST"])
@role_required("insured")
def end_bound_me(public_id: str):
    """The relative ends a binding (已绑定 → 已解除) or refuses a pending one (→ 已拒绝)."""
    binding = member_binding(public_id)
    success = "已解除绑定" if binding.status == "active" else "已拒绝"
    back = url_for("family.bound_me")
    result = _act(kinship_lifecycle.end_binding, binding, "member", current_actor(),
                  request.form.get("expect") or None, success=success, back=back)
    return result if not isinstance(result, KinshipBinding) else redirect(back)
