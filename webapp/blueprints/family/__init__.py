"""家庭 tab: 亲情账户 (add-member wizard, members, 绑定我的人)."""

from flask import Blueprint

bp = Blueprint("family", __name__, url_prefix="/family")

from webapp.blueprints.family import edit, members, person, wizard  # noqa: E402,F401
