"""材料审核 and 审计日志 (reviewer pages), plus the holder's 重新提交 page and a person's
"谁出示过我的医保码" page."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")

from webapp.blueprints.review import holder, routes  # noqa: E402,F401
