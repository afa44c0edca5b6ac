"""Register (real name + face check), log in, log out, 忘记密码 / 修改密码, 我的.

Registering this blueprint also installs what logins rely on: server-side sessions
(webapp.sessions) and the trusted-proxy client address (extensions.init_proxy_fix).
"""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.record_once
def _install(state) -> None:
    """Server-side sessions and ProxyFix on the app that registers the blueprint."""
    from webapp.extensions import init_proxy_fix
    from webapp.sessions import init_sessions

    init_sessions(state.app)
    init_proxy_fix(state.app)


from webapp.blueprints.auth import account, password, routes  # noqa: E402,F401
