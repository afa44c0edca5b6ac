"""定点药店 staff pages: scan a 医保码, the patient card, 预结算 and settlement, receipts, 撤销, 对账."""

from flask import Blueprint

bp = Blueprint("pharmacy", __name__, url_prefix="/pharmacy")

from webapp.blueprints.pharmacy import reconcile, routes  # noqa: E402,F401
