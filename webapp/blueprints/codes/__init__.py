"""医保码 tab: pick whose code to show, the code page, refresh and status endpoints."""

from flask import Blueprint

bp = Blueprint("codes", __name__, url_prefix="/code")

from webapp.blueprints.codes import routes  # noqa: E402,F401
