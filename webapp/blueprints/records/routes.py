"""消费记录 view: a person picker, then their settlements, newest first, paged, per month."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from webapp.blueprints.records import bp
from webapp.codes import records
from webapp.codes import services as codes
from webapp.codes.detail import settlement_detail
from webapp.domain import Forbidden
from webapp.extensions import db
from webapp.kinship.access import showable_people
from webapp.web import page_number, role_required


@bp.route("/")
@role_required("insured")
def index():
    """消费记录 of ``?who=me`` (default) or ``?who=<binding public id>`` (已绑定 only)."""
    key = request.args.get("who", codes.ME) or codes.ME
    try:
        who = codes.resolve_subject(current_user.person, key)
    except Forbidden:
        raise Forbidden("绑定已解除，无法查看该家人的消费记录", code="binding_ended") from None
    choices = [
        codes.Subject(binding.public_id if binding else codes.ME, person, binding)
        for person, binding in showable_people(current_user.person)
    ]
    page = db.paginate(
        records.person_query(who.person),
        page=page_number(), per_page=20, error_out=False,
    )
    return render_template(
        "records/index.html", who=who, choices=choices, page=page,
        this_month=records.month_total(who.person),
        months=records.month_totals(who.person, page.items),
        china_month=records.china_month,
    )


@bp.route("/<public_id>")
@role_required("insured")
def detail(public_id: str):
    """结算详情: one settlement (the patient, who showed the code, a holder acting for the
    patient, or the 共济 payer for its share; 404 for anyone else)."""
    view = settlement_detail(current_user.person, public_id)
    return render_template("records/detail.html", d=view, s=view.settlement)
