"""定点药店 staff pages: scan a 医保码, the patient card and settlement, receipts, today's list."""

from flask import Blueprint

bp = Blueprint("pharmacy", __name__, url_prefix="/pharmacy")

from webapp.blueprints.pharmacy import routes  # noqa: E402,F401
