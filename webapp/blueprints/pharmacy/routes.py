"""Pharmacy staff views: scan → patient card → amount/items → 预结算 → 患者确认 → 确认结算 → receipt.

Money moves only on 确认结算. The pending settlement (token, amount, items and its msgid) is
kept in the session; the confirm form carries the msgid, so a resubmitted confirm is answered
by the settlement service's msgid replay with the same receipt, and nothing moves twice.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from webapp import clock
from webapp.blueprints.pharmacy import bp
from webapp.blueprints.pharmacy.forms import ScanForm, SettleForm
from webapp.blueprints.pharmacy.steps import CancelForm, ConfirmForm
from webapp.codes import cancel, msgids, records, settlement
from webapp.codes.reconciliation import day_totals
from webapp.domain import DomainError
from webapp.extensions import limiter
from webapp.models import Pharmacy, Settlement
from webapp.money import yuan
from webapp.prg import restore, retry
from webapp.templating import china_time
from webapp.web import attempt, current_actor, role_required

TOKEN_KEY = "pharmacy_settlement_token"
PENDING_KEY = "pharmacy_pending_settlement"
# Refusals after which the card is stale: back to the scan page with the message.
RESCAN = {"used", "binding_ended", "not_insured", "token_expired", "token_invalid"}
# Refusals of a cancel that no retry can change: back to the receipt with the message.
CANCEL_CLOSED = {"cancel_window_closed", "day_reconciled"}


def my_pharmacy() -> Pharmacy:
    """The pharmacy of the logged-in staff member (403 for staff without one)."""
    pharmacy = current_user.pharmacy
    if pharmacy is None:
        abort(403)
    return pharmacy


def my_settlement(pharmacy: Pharmacy, public_id: str) -> Settlement:
    """One of this pharmacy's settlements; 404 for anyone else's or an unknown id."""
    row = records.pharmacy_settlement(pharmacy, public_id)
    if row is None:
        abort(404)
    return row


def verify_limit() -> str:
    """Rate limit of code verification (config RATELIMIT_CODE_VERIFY)."""
    return current_app.config.get("RATELIMIT_CODE_VERIFY", "120 per minute")


def staff_key() -> str:
    """Rate-limit per staff login (a whole shop may share one address)."""
    return f"staff:{current_user.get_id()}" if current_user.is_authenticated else (
        request.remote_addr or "")


def back_to_scan(err: DomainError):
    """The card is stale: forget it and show why on the scan page."""
    session.pop(TOKEN_KEY, None)
    session.pop(PENDING_KEY, None)
    flash(err.message if err.code != "token_invalid" else "请先扫描顾客的医保码", "error")
    return redirect(url_for("pharmacy.scan"))


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
            session.pop(PENDING_KEY, None)
            return redirect(url_for("pharmacy.patient"))
        form.code.data = ""
    if request.method == "POST":
        return retry(form, skip=("code",))  # a refused code is never typed back in
    restore(form)
    return render_template("pharmacy/scan.html", form=form, pharmacy=pharmacy,
                           day=day_totals(pharmacy.id, clock.today()))


def _pending(token: str) -> dict[str, Any] | None:
    """The pending settlement of this card, if the cashier already pre-settled it."""
    pending = session.get(PENDING_KEY)
    return pending if pending and pending.get("token") == token else None


@bp.route("/patient", methods=["GET", "POST"])
@role_required("pharmacy")
def patient():
    """The patient card of the last scanned code, and amount + items → 预结算."""
    pharmacy = my_pharmacy()
    try:
        checked = settlement.lookup(session.get(TOKEN_KEY, ""), pharmacy)
    except DomainError as err:
        return back_to_scan(err)
    form = SettleForm()
    pending = _pending(checked.token)
    if request.method == "GET" and pending:  # 返回修改: the figures typed before
        form.amount.data, form.items.data = pending["amount"], pending["items"]
    if form.validate_on_submit():
        try:
            fen = settlement.parse_amount(form.amount.data, pharmacy)
            split = settlement.presettle(checked.token, pharmacy, fen, form.items.data)
        except DomainError as err:
            if err.code in RESCAN:
                return back_to_scan(err)
            attempt(form, _raise, err)
        else:
            session[PENDING_KEY] = {
                "token": checked.token, "amount": form.amount.data.strip(),
                "amount_fen": split.total_fen, "items": form.items.data.strip(),
                "msgid": msgids.new_msgid(pharmacy),
            }
            return redirect(url_for("pharmacy.confirm"))
    if request.method == "POST":
        return retry(form)
    restore(form)
    return render_template("pharmacy/patient.html", form=form, v=checked, pharmacy=pharmacy)


def _raise(err: DomainError) -> None:
    """Re-raise inside ``attempt`` so the error lands on its field the shared way."""
    raise err


def refused(err: DomainError):
    """A refusal after 预结算: a stale card goes back to scanning, anything else to the card."""
    if err.code in RESCAN:
        return back_to_scan(err)
    flash(err.message, "error")
    return redirect(url_for("pharmacy.patient"))


@bp.route("/confirm", methods=["GET", "POST"])
@role_required("pharmacy")
def confirm():
    """预结算 split shown to the patient → 患者确认 → 确认结算 (money moves only here)."""
    pharmacy = my_pharmacy()
    pending = session.get(PENDING_KEY)
    if not pending:
        flash("请先扫码并填写金额", "error")
        return redirect(url_for("pharmacy.scan"))
    form = ConfirmForm()
    if form.validate_on_submit():
        if form.msgid.data != pending["msgid"]:
            flash("该结算页面已失效，请重新扫码", "error")
            return redirect(url_for("pharmacy.scan"))
        try:
            done = settlement.settle_message(pending["token"], pharmacy, current_actor(),
                                             pending["amount_fen"], pending["items"],
                                             msgid=pending["msgid"])
        except DomainError as err:
            return refused(err)
        # The pending entry stays: a resubmitted confirm replays the same msgid.
        session.pop(TOKEN_KEY, None)
        assert done.settlement is not None
        flash("该笔已结算，以下为原结算单" if done.replayed else "结算成功", "success")
        return redirect(url_for("pharmacy.receipt", public_id=done.settlement.public_id))
    if request.method == "POST":
        return retry(form, skip=("msgid",))
    try:
        checked = settlement.lookup(pending["token"], pharmacy)
        split = settlement.presettle(pending["token"], pharmacy, pending["amount_fen"],
                                     pending["items"])
    except DomainError as err:
        return refused(err)
    restore(form)
    form.msgid.data = pending["msgid"]
    return render_template("pharmacy/confirm.html", form=form, v=checked, split=split,
                           items=pending["items"], pharmacy=pharmacy)


@bp.route("/receipts/<public_id>")
@role_required("pharmacy")
def receipt(public_id: str):
    """结算单: the split of one of this pharmacy's settlements, printable; 撤销 if still allowed."""
    pharmacy = my_pharmacy()
    row = my_settlement(pharmacy, public_id)
    return render_template("pharmacy/receipt.html", s=row, pharmacy=pharmacy,
                           can_cancel=cancel.can_cancel(row, pharmacy),
                           now_china=china_time(clock.now()))


@bp.route("/receipts/<public_id>/cancel", methods=["GET", "POST"])
@role_required("pharmacy")
def cancel_receipt(public_id: str):
    """撤销结算: confirm with a reason; the money goes back the way it came."""
    pharmacy = my_pharmacy()
    row = my_settlement(pharmacy, public_id)
    back = redirect(url_for("pharmacy.receipt", public_id=row.public_id))
    form = CancelForm()
    if form.validate_on_submit():
        try:
            done = cancel.cancel(row, pharmacy, current_actor(), form.reason.data.strip(),
                                 msgid=form.msgid.data)
        except DomainError as err:
            if err.code in CANCEL_CLOSED:
                flash(err.message, "error")
                return back
            attempt(form, _raise, err)
        else:
            flash(f"已撤销结算，请当面退还顾客现金 ¥{yuan(done.cash_fen)}" if done.cash_fen
                  else "已撤销结算", "success")
            return back
    elif request.method == "GET":
        if not cancel.can_cancel(row, pharmacy):
            flash("该结算已撤销" if row.cancelled_at else "该结算已不能撤销", "error")
            return back
        form.msgid.data = msgids.new_msgid(pharmacy)
    if request.method == "POST":
        return retry(form, skip=("msgid",))  # the GET gives a fresh message id
    restore(form)
    return render_template("pharmacy/cancel.html", form=form, s=row, pharmacy=pharmacy)
