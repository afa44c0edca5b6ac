"""Request ids and one structured (JSON) access-log line per request.

The line names the route *template* (``/family/members/<public_id>``), never the path or the
query string, and the user's role, never an ID number, name, phone or user id::

    {"time": "2026-12-01T08:30:00.123Z", "request_id": "…", "method": "GET",
     "route": "/records/", "status": 200, "duration_ms": 12.3, "role": "insured"}
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable

from flask import Flask, Response, g, has_request_context, request

from webapp.observability import metrics

LOGGER_NAME = "webapp.access"
HEADER = "X-Request-Id"
# An inbound id is kept when it is short and plain (a proxy's UUID or trace id); else replaced.
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

access_log = logging.getLogger(LOGGER_NAME)


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to whatever ``sys.stderr`` is at the time of each line."""

    @property
    def stream(self):
        """The current standard error (gunicorn and pytest swap it)."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def current_request_id() -> str:
    """The id of the request being handled ('' outside a request, e.g. the CLI)."""
    return g.get("request_id", "") if has_request_context() else ""


def request_id_for(inbound: str) -> str:
    """The id of a request: the inbound ``X-Request-Id`` when short and plain, else a new one."""
    return inbound if SANE_ID.fullmatch(inbound) else uuid.uuid4().hex


def _start() -> None:
    """First before-request hook: take the time and settle the request id."""
    g.request_started = time.perf_counter()
    g.request_id = request_id_for(request.headers.get(HEADER, ""))


def _role() -> str:
    """The role of the user of this request, without loading anything the view did not."""
    user = g.get("_login_user")
    if user is not None:
        return getattr(user, "role", None) or "anonymous"
    if g.get("access_role"):  # authenticated without loading a user (the poll token)
        return str(g.access_role)
    if request.blueprint == "api":
        return "api" if g.get("api_key") is not None else "anonymous"
    return "anonymous"


def route_label() -> str:
    """The matched route's template, or '<unmatched>' (a path may hold anything)."""
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _finish(response: Response) -> Response:
    """Last after-request hook: echo the id, write the access line, observe the metrics."""
    started = g.get("request_started", time.perf_counter())
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[HEADER] = request_id
    log_request(request.method, route_label(), response.status_code,
                time.perf_counter() - started, request_id, _role)
    return response


def log_request(method: str, route: str, status: int, seconds: float, request_id: str,
                role: Callable[[], str]) -> None:
    """Observe one answered request in the metrics and write its access line (``role`` is
    asked only when the line is written). Also used by the token poll's WSGI lane
    (webapp/codes/lane.py), which answers without a Flask request."""
    metrics.observe_request(method, route, status, seconds)
    if access_log.isEnabledFor(logging.INFO):
        line = json.dumps({
            "time": _timestamp(time.time()),
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "role": role(),
        }, ensure_ascii=False)
        if access_log.handlers == _DEFAULT_HANDLERS and not access_log.filters:
            # The default set-up (nothing but our stderr handler): the line goes straight to
            # the stream; the logging machinery (a LogRecord, locks, a formatter) cost ~10×
            # the write itself, on every request. Any handler an operator or a test adds
            # takes the ordinary path below.
            sys.stderr.write(line + "\n")
        else:
            access_log.info(line)


_second: tuple[int, str] = (-1, "")


def _timestamp(now: float) -> str:
    """'2026-12-01T08:30:00.123Z' for a time.time() value (the seconds' text made once)."""
    global _second
    whole = int(now)
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{int((now - whole) * 1000):03d}Z"


_DEFAULT_HANDLERS: list[logging.Handler] = []


def configure_logger() -> None:
    """JSON lines on standard error, unless the operator configured the logger already.

    ``ACCESS_LOG=off`` in the environment switches the lines off (metrics still count every
    request); any other value, or none, keeps them.
    """
    if os.environ.get("ACCESS_LOG", "").lower() == "off":
        access_log.setLevel(logging.WARNING)
        return
    if not access_log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.propagate = False
        _DEFAULT_HANDLERS[:] = [handler]
    if access_log.level == logging.NOTSET:
        access_log.setLevel(logging.INFO)


def init_requestlog(app: Flask) -> None:
    """The timing/id hook runs before every other before-request hook; the log line last."""
    configure_logger()
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish)
