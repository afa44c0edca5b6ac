"""Pharmacy staff views: scan → patient card → settle → receipt; today's settlements."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import clock
from webapp.blueprints.pharmacy import bp
from webapp.blueprints.pharmacy.forms import ScanForm, SettleForm
from webapp.codes import records, settlement
from webapp.domain import DomainError
from webapp.extensions import db, limiter
from webapp.models import Pharmacy, Settlement
from webapp.templating import china_time
from webapp.web import attempt, current_actor, role_required

TOKEN_KEY = "pharmacy_settlement_token"
# Refusals after which the card is stale: back to the scan page with the message.
RESCAN = {"used", "binding_ended", "not_insured", "token_expired", "token_invalid"}


def my_pharmacy() -> Pharmacy:
    """The pharmacy of the logged-in staff member (403 for staff without one)."""
    pharmacy = current_user.pharmacy
    if pharmacy is None:
        abort(403)
    return pharmacy


def verify_limit() -> str:
    """Rate limit of code verification (config RATELIMIT_CODE_VERIFY)."""
    return current_app.config.get("RATELIMIT_CODE_VERIFY", "120 per minute")


def staff_key() -> str:
    """Rate-limit per staff login (a whole shop may share one address)."""
    return f"staff:{current_user.get_id()}" if current_user.is_authenticated else (
        request.remote_addr or "")


@bp.route("/", methods=["GET", "POST"])
@role_required("pharmacy")
@limiter.limit(verify_limit, key_func=staff_key, methods=["POST"])
def scan():
    """扫码: camera or scanner gun fills the field; a valid code opens the patient card."""
    pharmacy = my_pharmacy()
    form = ScanForm()
    if form.validate_on_submit():
        checked = attempt(form, settlement.verify, form.code.data, pharmacy, current_actor())
        if checked is not None:
            session[TOKEN_KEY] = checked.token
            return redirect(url_for("pharmacy.patient"))
        form.code.data = ""
    return render_template("pharmacy/scan.html", form=form, pharmacy=pharmacy,
                           day=records.day_totals(pharmacy))


@bp.route("/patient", methods=["GET", "POST"])
@role_required("pharmacy")
def patient():
    """The patient card of the last scanned code, and the settle form."""
    pharmacy = my_pharmacy()
    try:
        checked = settlement.lookup(session.get(TOKEN_KEY, ""), pharmacy)
    except DomainError as err:
        session.pop(TOKEN_KEY, None)
        flash(err.message if err.code != "token_invalid" else "请先扫描顾客的医保码", "error")
        return redirect(url_for("pharmacy.scan"))
    form = SettleForm()
    if form.validate_on_submit():
        try:
            done = _settle(checked.token, pharmacy, form.amount.data, form.items.data)
        except DomainError as err:
            db.session.rollback()
            if err.code in RESCAN:
                session.pop(TOKEN_KEY, None)
                flash(err.message, "error")
                return redirect(url_for("pharmacy.scan"))
            field = getattr(form, err.field, None) if err.field else None
            if field is not None:
                field.errors = [*field.errors, err.message]
            else:
                form.form_errors.append(err.message)
        else:
            session.pop(TOKEN_KEY, None)
            flash("结算成功", "success")
            return redirect(url_for("pharmacy.receipt", public_id=done.public_id))
    return render_template("pharmacy/patient.html", form=form, v=checked, pharmacy=pharmacy)


def _settle(token: str, pharmacy: Pharmacy, amount: str, items: str):
    """Parse the typed yuan exactly, then settle."""
    fen = settlement.parse_amount(amount, pharmacy)
    return settlement.settle(token, pharmacy, current_actor(), fen, items)


@bp.route("/receipts/<public_id>")
@role_required("pharmacy")
def receipt(public_id: str):
    """结算单: the split of one of this pharmacy's settlements, printable."""
    pharmacy = my_pharmacy()
    row = db.session.scalar(select(Settlement).where(
        Settlement.public_id == public_id, Settlement.pharmacy_id == pharmacy.id))
    if row is None:
        abort(404)
    return render_template("pharmacy/receipt.html", s=row, pharmacy=pharmacy,
                           now_china=china_time(clock.now()))


@bp.route("/today")
@role_required("pharmacy")
def today():
    """今日结算: this pharmacy's settlements of the China day, with totals."""
    pharmacy = my_pharmacy()
    day = clock.today()
    page = db.paginate(
        records.pharmacy_query(pharmacy, clock.china_midnight_utc(day)),
        page=request.args.get("page", 1, type=int), per_page=30, error_out=False,
    )
    return render_template("pharmacy/today.html", page=page, pharmacy=pharmacy,
                           totals=records.day_totals(pharmacy, day), day=day)
