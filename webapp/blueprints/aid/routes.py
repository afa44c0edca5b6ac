"""家庭共济 pages.

Owner: ``aid.index`` (成员列表 of my group, or how to open one), ``aid.create`` → face check
(``aid_create``) → ``aid.create_notice`` (告知书 + agree → the group), ``aid.add_member``,
``aid.member`` (one member; remove / withdraw, resend the invitation, change the Jiangsu
window), ``aid.spending`` (消费明细, filter by member and month).
Member: ``aid.joined`` (被绑定列表) and ``aid.leave``.

Every object is loaded by public id through ``queries.owner_member`` (the current user owns
the group) or ``queries.my_membership`` (the current user is the member): 404 for anyone
else. Pages read through ``webapp.aid.queries`` / ``webapp.aid.spending``; buttons call
``webapp.aid.services``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.aid import history as aid_history
from webapp.aid import queries, rules, services
from webapp.aid import spending as aid_spending
from webapp.aid.notices import refusal_text
from webapp.aid.states import AidMemberStatus
from webapp.blueprints.aid import bp
from webapp.blueprints.aid.forms import ActionForm, AddMemberForm, NoticeForm, WindowForm
from webapp.blueprints.face import start_face_check
from webapp.blueprints.invite.share import invite_share
from webapp.domain import DomainError
from webapp.face import services as face
from webapp.forms import select_choices
from webapp.kinship import letters
from webapp.models import InsuredPerson
from webapp.policy import AidRules, relation_label
from webapp.prg import restore, retry
from webapp.web import attempt, current_actor, page_number, role_required

INVITED = "aid_invited"
PAGE_SIZE = 20


def me() -> InsuredPerson:
    """The logged-in insured person."""
    return current_user.person


# --- my group (成员列表) ---------------------------------------------------------------------

@bp.route("/")
@role_required("insured")
def index():
    """家庭共济: my group and its 成员列表, or how to open one."""
    return render_template("aid/index.html", view=queries.group_page(me()),
                           balance_fen=me().balance_fen, relation_label=relation_label)


def _has_group() -> Response | None:
    """Back to the home page when the person already has a group."""
    if queries.group_of(me()) is None:
        return None
    flash(refusal_text("exists"), "warning")
    return redirect(url_for("aid.index"))


@bp.route("/create", methods=["GET", "POST"])
@role_required("insured")
def create():
    """开通家庭共济, step 1: who may, what it means; start with the owner's face check."""
    if (back := _has_group()) is not None:
        return back
    form = ActionForm()
    refusal = queries.can_create(me())
    if form.validate_on_submit() and not refusal:
        target = url_for("aid.create_notice")
        if face.has_pass(me(), rules.CREATE_PURPOSE):
            return redirect(target)
        return start_face_check(me(), rules.CREATE_PURPOSE, target)
    if request.method == "POST":
        return retry(form)
    return render_template("aid/create.html", form=form, refusal=refusal,
                           rules=rules.rules_for(me()), balance_fen=me().balance_fen)


@bp.route("/create/notice", methods=["GET", "POST"])
@role_required("insured")
def create_notice():
    """开通家庭共济, step 2: the 家庭共济告知书; agreeing creates the group."""
    if (back := _has_group()) is not None:
        return back
    if not face.has_pass(me(), rules.CREATE_PURPOSE):
        flash("请先完成人脸识别", "warning")
        return redirect(url_for("aid.create"))
    form = NoticeForm()
    if form.validate_on_submit():
        group = attempt(form, services.create_group, me(), bool(form.agree.data),
                        current_actor())
        if group is not None:
            flash("家庭共济已开通", "success")
            return redirect(url_for("aid.index"))
    if request.method == "POST":
        return retry(form)
    restore(form)
    return render_template("aid/notice.html", form=form, version=rules.notice_version(me()),
                           blocks=letters.blocks(rules.notice_text(me())))


# --- adding members -----------------------------------------------------------------------

def _window_values(form: WindowForm, policy: AidRules) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if policy.authorisation_window:
        values.update(starts_on=form.starts_on.data, ends_on=form.ends_on.data)
    if policy.monthly_cap_allowed:
        values["monthly_cap_fen"] = form.monthly_cap.data  # fen (YuanField)
    return values


@bp.route("/members/add", methods=["GET", "POST"])
@role_required("insured")
def add_member():
    """添加共济成员: name + ID number + relation, or pick a bound 亲情账户 relative."""
    view = queries.add_page(me())
    if view is None:
        return redirect(url_for("aid.index"))
    form = AddMemberForm()
    form.relation.choices = select_choices([("", "请选择"), *rules.relation_choices(me())])
    picked = None
    if request.method == "GET" and request.args.get("pick"):
        picked = next((b for b in view.bindings if b.public_id == request.args["pick"]), None)
        if picked is not None:
            form.pick.data = picked.public_id
            if picked.relation in view.rules.relations:
                form.relation.data = picked.relation
    elif form.pick.data:
        picked = next((b for b in view.bindings if b.public_id == form.pick.data), None)
    if form.validate_on_submit():
        added = attempt(form, services.add_member, me(), form.relation.data, current_actor(),
                        name=form.name.data or "", id_number=form.id_number.data or "",
                        pick=form.pick.data or "", **_window_values(form, view.rules))
        if picked is not None:  # no name/ID fields on the page: say it above the form
            for f in (form.name, form.id_number, form.pick):
                form.form_errors.extend(f.errors)
                f.errors = []
        if added is not None:
            if added.token:
                session[INVITED] = {"member": added.member.public_id, "token": added.token}
                flash("邀请已生成，请把链接发给对方", "success")
            else:
                flash("已加入家庭共济", "success")
            return redirect(url_for("aid.member", public_id=added.member.public_id))
    if request.method == "POST":
        return retry(form)
    if restore(form) and form.pick.data:
        picked = next((b for b in view.bindings if b.public_id == form.pick.data), None)
    return render_template("aid/add.html", form=form, view=view, picked=picked,
                           relation_label=relation_label)


# --- one member ---------------------------------------------------------------------------

@bp.route("/members/<public_id>")
@role_required("insured")
def member(public_id: str):
    """One member of my group: state, limits, spending, and what can be done."""
    view = queries.member_page(me(), public_id)
    m = view.member
    share = None
    stash = session.get(INVITED)
    if isinstance(stash, dict) and stash.get("member") == m.public_id \
            and view.status == AidMemberStatus.PENDING_CONFIRM:
        session.pop(INVITED, None)
        share = invite_share(stash["token"], f"{me().name}邀请您加入其医保家庭共济")
    window_form = WindowForm(formdata=None, starts_on=m.starts_on, ends_on=m.ends_on,
                             monthly_cap=m.monthly_cap_fen)
    restore(window_form)  # a refused change comes back with what was typed and its errors
    return render_template("aid/member.html", view=view, m=m, form=ActionForm(),
                           window_form=window_form, share=share)


def _act(fn: Callable[..., Any], *args: Any, success: str, back: str) -> Response | None:
    """One state change from a button: a DomainError becomes a flash; back to the page."""
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重试", "error")
        return redirect(back)
    try:
        fn(*args)
    except DomainError as err:  # the service rolled back
        flash(err.message, "error")
        return redirect(back)
    flash(success, "success")
    return None


@bp.route("/members/<public_id>/remove", methods=["POST"])
@role_required("insured")
def remove_member(public_id: str):
    """移除成员 (or 撤回邀请 of a 待确认 one)."""
    m = queries.owner_member(me(), public_id)
    success = "已撤回邀请" if m.status == AidMemberStatus.PENDING_CONFIRM else "已移除共济成员"
    back = url_for("aid.member", public_id=public_id)
    return _act(services.remove_member, me(), m, current_actor(), success=success,
                back=back) or redirect(url_for("aid.index"))


@bp.route("/members/<public_id>/resend", methods=["POST"])
@role_required("insured")
def resend(public_id: str):
    """重新发送邀请: a fresh link (shown once), the old one stops working."""
    m = queries.owner_member(me(), public_id)
    back = url_for("aid.member", public_id=public_id)
    tokens: list[str] = []
    failed = _act(lambda: tokens.append(services.resend(me(), m, current_actor())),
                  success="已生成新的邀请链接，原链接已失效", back=back)
    if failed is None:
        session[INVITED] = {"member": m.public_id, "token": tokens[0]}
    return redirect(back)


@bp.route("/members/<public_id>/window", methods=["POST"])
@role_required("insured")
def window(public_id: str):
    """Change the authorisation window / monthly cap (where the policy allows)."""
    m = queries.owner_member(me(), public_id)
    policy = rules.rules_for(me())
    if not (policy.authorisation_window or policy.monthly_cap_allowed):
        abort(404)
    form = WindowForm()
    back = url_for("aid.member", public_id=public_id)
    if form.validate_on_submit():
        values = {"starts_on": None, "ends_on": None, "monthly_cap_fen": None,
                  **_window_values(form, policy)}
        done = attempt(form, services.set_window, me(), m, values["starts_on"],
                       values["ends_on"], values["monthly_cap_fen"], current_actor())
        if done is not None:
            flash("共济授权已更新", "success")
            return redirect(back)
    for f in (form.starts_on, form.ends_on, form.monthly_cap):
        for e in f.errors:
            flash(e, "error")
    for e in form.form_errors:
        flash(e, "error")
    return retry(form, back)


@bp.route("/members/<public_id>/history")
@role_required("insured")
def member_history(public_id: str):
    """共济授权记录 of a member of my group (404 for anyone else)."""
    return render_template("aid/history.html", view=aid_history.owner_history(me(), public_id))


# --- 被绑定列表 -----------------------------------------------------------------------------

@bp.route("/joined")
@role_required("insured")
def joined():
    """被绑定列表: groups I belong to, whose owner's balance I may use."""
    return render_template("aid/joined.html", rows=queries.joined_rows(me()), form=ActionForm(),
                           has_group=queries.group_of(me()) is not None,
                           past=aid_history.past_memberships(me()), relation_label=relation_label)


@bp.route("/joined/<public_id>/leave", methods=["POST"])
@role_required("insured")
def leave(public_id: str):
    """退出 a group (or decline a 待确认 invitation)."""
    m = queries.my_membership(me(), public_id)
    success = "已退出家庭共济" if m.status == AidMemberStatus.ACTIVE else "已拒绝共济邀请"
    back = url_for("aid.joined")
    return _act(services.leave, me(), m, current_actor(), success=success, back=back) \
        or redirect(back)


@bp.route("/joined/<public_id>/history")
@role_required("insured")
def my_history(public_id: str):
    """共济授权记录 of my own membership (404 for anyone else)."""
    return render_template("aid/history.html", view=aid_history.member_history(me(), public_id))


# --- 消费明细 -------------------------------------------------------------------------------

@bp.route("/spending")
@role_required("insured")
def spending():
    """消费明细: every payment from my account for a member, by member and month, with totals."""
    view = aid_spending.spending_page(me(), request.args.get("member", ""),
                                      request.args.get("month"), page_number(), PAGE_SIZE)
    if view is None:
        return redirect(url_for("aid.index"))
    return render_template("aid/spending.html", view=view, relation_label=relation_label,
                           balance_fen=me().balance_fen)
