"""亲情账户 pages: my members (family.index), one member (family.member), 绑定我的人
(family.bound_me), and their actions (解除绑定, 撤回, 重新发送邀请).

Every object access goes through one of two loaders of ``webapp.kinship.queries``:
``holder_binding`` (the current user is the holder) and ``member_binding`` (the current user is
the bound relative); both answer 404 for anyone else. Names and ID numbers of other people are
masked in the templates. Pages only read (the sweeps run from ``flask housekeeping``).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from webapp.blueprints.family import bp
from webapp.blueprints.invite.share import invite_share
from webapp.domain import DomainError
from webapp.forms import ActionForm
from webapp.kinship import lifecycle as kinship_lifecycle
from webapp.kinship import queries
from webapp.kinship.models import KinshipBinding
from webapp.kinship.states import HOLDER, MEMBER, BindingStatus
from webapp.kinship.steps import awaits_member, rules_of
from webapp.models import InsuredPerson
from webapp.web import current_actor, role_required

RESENT = "kinship_resent"
# What the holder's 解除 button did, by the state they saw.
ENDED_WORDS = {BindingStatus.ACTIVE: "已解除绑定", BindingStatus.PENDING_CONFIRM: "已撤回邀请",
               BindingStatus.PENDING_REVIEW: "已撤回添加申请"}


def me() -> InsuredPerson:
    """The logged-in insured person."""
    return current_user.person


# --- 亲情账户 -------------------------------------------------------------------------------

@bp.route("/")
@role_required("insured")
def index():
    """家庭 tab: 亲情账户 vs 家庭共济, my members with their states, 绑定我的人."""
    return render_template("family/index.html", page=queries.family_page(me()))


@bp.route("/members/<public_id>")
@role_required("insured")
def member(public_id: str):
    """One of my members: details, state and the actions that fit it."""
    binding = queries.holder_binding(me(), public_id)
    shared = session.pop(RESENT, None)
    share = None
    if isinstance(shared, dict) and shared.get("binding") == binding.public_id \
            and awaits_member(binding):
        share = invite_share(shared["token"], f"{me().name}邀请您确认医保亲情账户绑定")
    return render_template(
        "family/member.html",
        r=queries.row(binding, with_invitation=True),
        form=ActionForm(),
        share=share,
        self_confirm_age=rules_of(binding).self_confirm_age,
    )


def _act(fn, *args, success: str, back: str):
    """Run one lifecycle action; a DomainError becomes a flash, then back to the page."""
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重试", "error")
        return redirect(back)
    try:
        result = fn(*args)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(back)
    flash(success, "success")
    return result


@bp.route("/members/<public_id>/end", methods=["POST"])
@role_required("insured")
def end_member(public_id: str):
    """解除绑定 (active), or 撤回 a 待确认/待审核 request."""
    binding = queries.holder_binding(me(), public_id)
    success = ENDED_WORDS.get(binding.status, "已处理")
    back = url_for("family.member", public_id=public_id)
    result = _act(kinship_lifecycle.end_binding, binding, HOLDER, current_actor(),
                  request.form.get("expect") or None, success=success, back=back)
    return result if not isinstance(result, KinshipBinding) else redirect(back)


@bp.route("/members/<public_id>/resend", methods=["POST"])
@role_required("insured")
def resend(public_id: str):
    """重新发送邀请: a fresh link (shown once on the member page); the old one stops working."""
    binding = queries.holder_binding(me(), public_id)
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
    return render_template("family/bound_me.html",
                           rows=queries.bound_me_rows(me(), with_invitation=True),
                           form=ActionForm())


@bp.route("/bound-me/<public_id>/end", methods=["POST"])
@role_required("insured")
def end_bound_me(public_id: str):
    """The relative ends a binding (已绑定 → 已解除) or refuses a pending one (→ 已拒绝)."""
    binding = queries.member_binding(me(), public_id)
    success = "已解除绑定" if binding.status == BindingStatus.ACTIVE else "已拒绝"
    back = url_for("family.bound_me")
    result = _act(kinship_lifecycle.end_binding, binding, MEMBER, current_actor(),
                  request.form.get("expect") or None, success=success, back=back)
    return result if not isinstance(result, KinshipBinding) else redirect(back)
