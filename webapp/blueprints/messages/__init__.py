"""站内消息 inbox."""

from flask import Blueprint

bp = Blueprint("messages", __name__, url_prefix="/messages")

from webapp.blueprints.messages import routes  # noqa: E402,F401
