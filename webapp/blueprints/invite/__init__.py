"""邀请链接 pages (/i/…): a relative opens an invitation, logs in or registers, face-checks and
accepts or declines — for every kind of invitation (see webapp.invitations.services)."""

from flask import Blueprint

bp = Blueprint("invite", __name__, url_prefix="/i")

from webapp.blueprints.invite import routes  # noqa: E402,F401
