"""Error pages in Chinese, in the app's own style, for HTML and JSON clients."""

from contextlib import suppress
from html import escape

from flask import Flask, Response, g, jsonify, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import SecurityError

from webapp.domain import DomainError
from webapp.extensions import db, login_manager
from webapp.hardening import UnstorableInput

MESSAGES = {
    400: ("请求有误", "提交的内容无法处理，请返回后重试。"),
    403: ("无权访问", "您没有权限查看或操作该内容。"),
    404: ("页面不存在", "您访问的内容不存在或已被移除。"),
    405: ("操作不支持", "该页面不支持此操作。"),
    413: ("文件过大", "上传的文件超过大小限制，请压缩后重新上传。"),
    429: ("操作过于频繁", "您的操作过于频繁，请稍后再试。"),
    500: ("系统繁忙", "服务暂时出现问题，请稍后再试。我们已记录此问题。"),
    503: ("服务暂时不可用", "系统连接暂时中断，请稍后再试。"),
}
# A Host header outside TRUSTED_HOSTS (Flask refuses it before routing).
UNTRUSTED_HOST = (MESSAGES[400][0], "访问地址无效，请通过正确的网址访问。")


def wants_json() -> bool:
    """Whether the client is an API client rather than a browser page."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(status: int, message: str | None = None):
    """One error response: JSON for API clients, the styled Chinese page otherwise."""
    title, default_message = MESSAGES.get(status, MESSAGES[500])
    text = message or default_message
    if wants_json():
        return jsonify(error={"code": str(status), "message": text}), status
    return render_template("errors/error.html", status=status, title=title, message=text), status


def init_errorhandlers(app: Flask) -> None:
    """Register handlers for the HTTP errors and for domain errors raised outside a form."""

    for status in (400, 403, 404, 405, 413, 429):
        app.register_error_handler(status, lambda err, s=status: render_error(s))

    @app.errorhandler(SecurityError)
    def untrusted_host(err):
        # Refused before the request was bound to the URL map: the styled page builds its links
        # with url_for, which has nothing to build with here, so a bare page in Chinese.
        title, text = UNTRUSTED_HOST
        if wants_json():
            return jsonify(error={"code": "400", "message": text}), 400
        page = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p>")
        return Response(page, 400, mimetype="text/html")

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        return render_error(400, "页面已过期或来源无效，请刷新页面后重试。")

    @app.errorhandler(UnstorableInput)
    def unstorable_input(err: UnstorableInput):
        return render_error(400, err.description)

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):
        db.session.rollback()
        return render_error(err.status if err.status in MESSAGES else 400, err.message)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(err):
        # The database went away (restart, network): a 503 page that needs no database, so
        # the page shows no user; the pool's idle ping (webapp/dbpool.py) reconnects once it is back.
        app.logger.warning("database unavailable: %s", type(err).__name__)
        with suppress(Exception):
            db.session.rollback()
        g._login_user = login_manager.anonymous_user()
        if request_ctx and request_ctx._session is None:  # the session store is the database
            request_ctx._session = app.session_interface.make_null_session(app)
        return render_error(503)

    @app.errorhandler(500)
    def server_error(err):
        original = getattr(err, "original_exception", None)
        if isinstance(original, (OperationalError, InterfaceError)):  # e.g. while opening the session
            return database_unavailable(original)
        db.session.rollback()
        return render_error(500)
