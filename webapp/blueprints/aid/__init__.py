"""家庭共济 pages: 成员列表 (my group), 被绑定列表 (groups I joined), 消费明细, and actions."""

from flask import Blueprint

from webapp.aid.states import AidGroupStatus, AidMemberStatus

bp = Blueprint("aid", __name__, url_prefix="/aid")


@bp.context_processor
def aid_states() -> dict[str, type]:
    """The state enums, so the aid templates compare with them (never a bare string)."""
    return {"AidGroupStatus": AidGroupStatus, "AidMemberStatus": AidMemberStatus}


from webapp.blueprints.aid import routes  # noqa: E402,F401
