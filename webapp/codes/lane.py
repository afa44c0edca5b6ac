"""The token poll's WSGI lane: the ordinary token poll answered without Flask's request cycle.

Every open 医保码 page asks every few seconds what became of its codes (webapp/codes/status.py):
the busiest request of the app. With a valid poll token (webapp/codes/polling.py) its view
loads no session, checks no CSRF header and writes nothing, so most of its cost was Flask's
request context, the session interface, a dozen before/after hooks and Werkzeug's parsing, not
the one indexed lookup. This middleware answers exactly that case, in front of the Flask app:

- ``POST`` to the route of ``codes.status`` (matched with the app's own rule), a form body
  (``application/x-www-form-urlencoded``, UTF-8, at most ``MAX_BODY`` bytes) and an
  ``X-Poll-Token`` that is valid for the URL's subject;
- the answer is the view's: ``status.status_of`` for the token's grant, as JSON, with the same
  headers as every Flask answer (security headers, ``Cache-Control: private, no-store``,
  ``X-Request-Id``), the same access-log line and metrics, read-only (on PostgreSQL on an
  always-autocommit connection: ``readonly.read_connection``, taken only when Redis did not
  answer: with ``REDIS_URL`` a poll touches no database connection at all).

Everything else — no token or a bad one, another method, content type or path, a body that is
not plain UTF-8 form data, text no database can store (NUL, lone surrogates: the input guard's
own test, ``hardening.any_unstorable``), any error while answering — goes to the Flask app with
the body as it came, so it is answered (or refused) exactly as without the lane. Switched off
with ``POLL_LANE = False``.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, cast
from urllib.parse import parse_qsl

from flask import Flask, Response

from webapp import readonly
from webapp.codes import polling
from webapp.codes import status as code_status
from webapp.hardening import any_unstorable
from webapp.observability import requestlog
from webapp.security import add_security_headers
from webapp.web import no_store

ENDPOINT = "codes.status"
FORM = "application/x-www-form-urlencoded"
# A page sends a handful of codes (c=…) and settlements (w=…): a few hundred bytes.
MAX_BODY = 4096
TOKEN_ENV = "HTTP_" + polling.HEADER.upper().replace("-", "_")
REQUEST_ID_ENV = "HTTP_" + requestlog.HEADER.upper().replace("-", "_")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _route_pattern(rule: str) -> re.Pattern[str]:
    """A rule of ``codes.status`` (``/code/<subject>/status``) as a regex: the default
    converter matches one path segment."""
    return re.compile(re.escape(rule).replace(re.escape("<subject>"), "(?P<subject>[^/]+)"))


class PollLane:
    """WSGI middleware in front of ``inner`` (the Flask app's WSGI callable)."""

    def __init__(self, app: Flask, inner: WSGIApp) -> None:
        self.app = app
        self.inner = inner
        (rule,) = app.url_map.iter_rules(ENDPOINT)
        assert rule.arguments == {"subject"}, rule.rule
        self.route_label = rule.rule  # what the access log and the metrics name
        self.route = _route_pattern(rule.rule)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if (environ.get("REQUEST_METHOD") != "POST" or TOKEN_ENV not in environ
                or environ.get("QUERY_STRING") or "HTTP_TRANSFER_ENCODING" in environ):
            return self.inner(environ, start_response)
        matched = self.route.fullmatch(environ.get("PATH_INFO", ""))
        if matched is None or environ.get("CONTENT_TYPE", "").split(";")[0].strip() != FORM:
            return self.inner(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.inner(environ, start_response)
        if not 0 <= length <= MAX_BODY:
            return self.inner(environ, start_response)
        body = environ["wsgi.input"].read(length) if length else b""
        response = self._answer(environ, matched["subject"], body)
        if response is None:  # not the lane's case: the Flask app answers, body intact
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return self.inner(environ, start_response)
        return response(environ, start_response)

    def _answer(self, environ: dict, subject: str, body: bytes) -> Response | None:
        started = time.perf_counter()
        try:
            text = body.decode("utf-8")
            fields = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                               errors="strict", max_num_fields=64)
        except (UnicodeDecodeError, ValueError):
            return None
        if not subject.isascii() or any_unstorable([subject, *(t for f in fields for t in f)]):
            return None
        app = self.app
        with app.app_context():
            grant = polling.grant(environ[TOKEN_ENV], subject)
            if grant is None:
                return None
            try:
                answer = code_status.status_of(
                    grant.user_id, grant.person_id, grant.keep,
                    [v for k, v in fields if k == "c"], [v for k, v in fields if k == "w"],
                    connect=lambda: readonly.read_connection(app))  # none when Redis answers
            except Exception:  # noqa: BLE001 - the Flask app answers (or reports) it
                return None
            finally:
                readonly.end()
            response = cast(Response, app.json.response(answer))
            no_store(response)
            add_security_headers(response, app.config)
            request_id = requestlog.request_id_for(environ.get(REQUEST_ID_ENV, ""))
            response.headers[requestlog.HEADER] = request_id
            requestlog.log_request("POST", self.route_label, response.status_code,
                                   time.perf_counter() - started, request_id,
                                   lambda: polling.ROLE)
        return response


def init_poll_lane(app: Flask) -> None:
    """Put the lane in front of the app's WSGI callable (after every other wrapper)."""
    if app.config.get("POLL_LANE", True):
        app.wsgi_app = PollLane(app, app.wsgi_app)  # type: ignore[method-assign]


def lane_of(app: Flask) -> Any:
    """The app's PollLane (None when switched off)."""
    return app.wsgi_app if isinstance(app.wsgi_app, PollLane) else None
