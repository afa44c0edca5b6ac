"""Register (real name + face check), log in, log out, 我的."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from webapp.blueprints.auth import routes  # noqa: E402,F401
