"""对账 pages of a pharmacy: one China day per fund (cancelled apart), its settlements, CSV."""

from __future__ import annotations

from datetime import date

from flask import Response, render_template, request

from webapp import clock
from webapp.blueprints.pharmacy import bp
from webapp.blueprints.pharmacy.routes import my_pharmacy
from webapp.blueprints.pharmacy.steps import DayForm
from webapp.codes import records
from webapp.codes.reconciliation import (
    check_day,
    day_totals,
    is_reconciled,
    last_reconciliation,
)
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.web import no_store, page_number, role_required


def chosen_day(form: DayForm) -> date:
    """The day asked for (?date=); today when absent or not a day that can be reconciled."""
    if not form.validate() or form.date.data is None:
        return clock.today()
    try:
        return check_day(form.date.data)
    except DomainError as err:
        form.date.errors = [*form.date.errors, err.message]
        return clock.today()


@bp.route("/today")  # the old 今日结算 address: today's 对账 page
@bp.route("/reconciliation")
@role_required("pharmacy")
def reconciliation():
    """对账: a date picker, the day's totals per fund, cancelled ones apart, the settlements."""
    pharmacy = my_pharmacy()
    form = DayForm(request.args)
    day = chosen_day(form)
    form.date.data = day
    page = db.paginate(records.pharmacy_day_query(pharmacy, day), page=page_number(),
                       per_page=30, error_out=False)
    return render_template("pharmacy/reconciliation.html", page=page, pharmacy=pharmacy,
                           form=form, day=day, totals=day_totals(pharmacy.id, day),
                           checked=last_reconciliation(pharmacy.id, day),
                           reconciled=is_reconciled(pharmacy.id, day),
                           is_today=day == clock.today())


@bp.route("/reconciliation.csv")
@role_required("pharmacy")
def reconciliation_csv():
    """The 对账 day as a CSV file (every settlement of the day and both totals)."""
    pharmacy = my_pharmacy()
    day = chosen_day(DayForm(request.args))
    response = Response(records.day_csv(pharmacy, day), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="reconciliation-{pharmacy.code}-{day.isoformat()}.csv"')
    return no_store(response)
