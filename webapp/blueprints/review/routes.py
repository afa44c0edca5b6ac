"""Reviewer pages (医保经办机构, reviewer role only): the 待审核 queue, one application with its
material and signed 承诺书, the decision, and the 审计日志 search with its CSV export."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from webapp import clock
from webapp.audit import search as audit_search
from webapp.audit.search import AuditQuery
from webapp.blueprints.review import bp
from webapp.blueprints.review.forms import AuditSearchForm, DecisionForm
from webapp.domain import Conflict, DomainError
from webapp.forms import select_choices
from webapp.kinship.states import BindingStatus
from webapp.policy import relation_label
from webapp.prg import restore, retry
from webapp.prg import status as prg_status
from webapp.review import queries
from webapp.review import services as review
from webapp.web import attempt, current_actor, no_store, page_number, role_required

PER_PAGE = 20


def page_arg() -> int:
    """?page=N (1 when missing or bad)."""
    return page_number()


@bp.route("/")
@role_required("reviewer")
def queue():
    """待审核 (oldest first, waited vs the deadline, overdue marked) or 已处理 (?tab=done)."""
    view = queries.queue_page(request.args.get("tab", ""), page_arg(), PER_PAGE)
    return no_store(make_response(render_template(
        "review/queue.html", relation_label=relation_label, **view.context())))


def detail_page(binding, form: DecisionForm, status: int = 200):
    """The application page (also re-rendered with the form's errors): full names and ID
    numbers, so each rendering is audited."""
    review.record_full_view(binding, current_user._get_current_object(), current_actor())
    view = queries.detail_page(binding)
    response = make_response(render_template(
        "review/detail.html", form=form, action_label=audit_search.action_label,
        **view.context()), status)
    return no_store(response)


@bp.route("/<public_id>")
@role_required("reviewer")
def detail(public_id: str):
    """One application: both people in full, the relation, the material, the letter."""
    binding = queries.for_reviewer(public_id)
    form = DecisionForm(version=str(binding.version))
    restore(form)  # a refused decision's reason and note, with its 400
    return detail_page(binding, form, prg_status())


@bp.route("/<public_id>/decide", methods=["POST"])
@role_required("reviewer")
def decide(public_id: str):
    """通过 / 不通过. The loser of two reviewers deciding at once is told, nothing changes."""
    binding = queries.for_reviewer(public_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return retry(form, url_for("review.detail", public_id=binding.public_id), status=400)
    try:
        version = int(form.version.data) if form.version.data else None
    except ValueError:
        version = None
    reviewer = current_user._get_current_object()
    try:
        if form.reject.data:
            done = attempt(form, told(review.reject), public_id, reviewer,
                           form.reason.data or "", form.note.data or "", current_actor(),
                           expected_version=version)
        else:
            done = attempt(form, told(review.approve), public_id, reviewer, current_actor(),
                           expected_version=version)
    except Lost as lost:  # the service rolled back
        flash(lost.message, "error")
        return redirect(url_for("review.detail", public_id=public_id))
    if done is None:
        return retry(form, url_for("review.detail", public_id=public_id), status=400)
    if done.status == BindingStatus.ACTIVE:
        flash("已审核通过，已通知申请人", "success")
    else:
        flash("已审核不通过，已通知申请人", "success")
    return redirect(url_for("review.queue"))


class Lost(Exception):
    """Another reviewer decided first (or the material changed): not a form error."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def told(fn):
    """The service call, with a Conflict turned into Lost so attempt() lets it through."""

    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Conflict as err:
            raise Lost(err.message) from err

    return call


# --- 审计日志 --------------------------------------------------------------------------------

def audit_query(form: AuditSearchForm) -> AuditQuery:
    """The search terms of a validated form."""
    return AuditQuery(
        id_number=form.id_number.data or "",
        actor=form.actor.data or "",
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        action=form.action.data or "",
    )


@bp.route("/audit")
@role_required("reviewer")
def audit():
    """审计日志: search by ID number, actor (phone or label), date range and action; paged."""
    form = AuditSearchForm(request.args)
    form.action.choices = select_choices([("", "全部操作"), *audit_search.known_actions()])
    results = None
    query = AuditQuery()
    if form.validate():
        query = audit_query(form)
        try:
            results = audit_search.search(query, page=page_arg())
        except DomainError as err:
            field = getattr(form, err.field or "", None)
            if field is not None:
                field.errors = [*field.errors, err.message]
            else:
                form.form_errors.append(err.message)
            results = None
    return no_store(make_response(render_template(
        "review/audit.html", form=form, results=results, args=query.as_args(),
    )))


@bp.route("/audit.csv")
@role_required("reviewer")
def audit_csv():
    """The same search as CSV (UTF-8 with BOM for Excel, China time, masked)."""
    search: dict[str, Any] = request.args.to_dict()  # to go back to the same search
    form = AuditSearchForm(request.args)
    form.action.choices = select_choices([("", "全部操作")])
    if not form.validate():
        flash("搜索条件有误，请修改后再导出", "error")
        return redirect(url_for("review.audit", **search))
    try:
        chunks = audit_search.export_csv(audit_query(form), current_actor())
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("review.audit", **search))
    name = f"audit-{clock.china_time(clock.now(), '%Y%m%d-%H%M%S')}.csv"
    response = Response(stream_with_context(chunks), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return no_store(response)
