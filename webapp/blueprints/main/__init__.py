"""Home page, service grid, 长辈模式 switch and the shell's shared pages."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from webapp.blueprints.main import routes  # noqa: E402,F401
