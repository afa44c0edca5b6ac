"""POS JSON API (``/api``): per-pharmacy API keys, verify a 医保码, settle, read a settlement.

Authenticated by the ``X-API-Key`` header, not by cookies, so it is exempt from CSRF. Every
answer is JSON, errors included (``{"error": {"code", "message"}}``, see ``errors.ERRORS``).
The OpenAPI document is built by ``openapi.py`` and served at ``/api/openapi.json``.
"""

from flask import Blueprint

from webapp.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

from webapp.blueprints.api import errors, routes  # noqa: E402,F401
