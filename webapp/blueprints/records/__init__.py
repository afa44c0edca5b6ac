"""消费记录: settled purchases of myself and each 已绑定 relative."""

from flask import Blueprint

bp = Blueprint("records", __name__, url_prefix="/records")

from webapp.blueprints.records import routes  # noqa: E402,F401
