"""家庭共济 pages: 成员列表 (my group), 被绑定列表 (groups I joined), 消费明细, and actions."""

from flask import Blueprint

bp = Blueprint("aid", __name__, url_prefix="/aid")

from webapp.blueprints.aid import routes  # noqa: E402,F401
