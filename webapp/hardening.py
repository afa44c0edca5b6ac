"""Request hardening: refuse text a database cannot store, keep private answers out of caches.

PostgreSQL ``text``/``varchar`` cannot hold NUL (U+0000), and no database driver can encode a
lone UTF-16 surrogate (U+D800..U+DFFF, which only JSON's ``\\ud800`` escapes can produce). Either
one in a query argument, form field or file name, JSON string or path segment is answered with a
clean 400 before any view runs: the Chinese error page for browsers, ``invalid_request`` for the
API (its blueprint's 400 handler), instead of a database error deep inside a service.

Every answer that is not a static file is sent with ``Cache-Control: private, no-store``: every
logged-in page shows personal data, and the anonymous pages carry CSRF tokens, invitation
details or a pending registration. Static files keep their normal caching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.exceptions import BadRequest

from webapp.web import no_store

# NUL and lone surrogates: no database column of this app can hold them.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "提交的内容包含无法识别的字符，请删除后重试。"
# How deep a JSON body is searched (bodies are small; deeper nesting is refused as unsafe).
MAX_JSON_DEPTH = 32


class UnstorableInput(BadRequest):
    """A request carrying text that cannot be stored (answered 400 everywhere)."""

    description = MESSAGE


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a character no database text column can store."""
    return UNSTORABLE.search(text) is not None


def any_unstorable(texts: Iterable[str]) -> bool:
    """Whether any of ``texts`` does: one search over them joined (NUL and surrogates cannot
    come from joining), not one call per text. The input guard below and the token poll's
    lane (webapp/codes/lane.py)."""
    return unstorable("\n".join(texts))


def _json_strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every key and string inside a parsed JSON value (``\\x00`` past the depth limit)."""
    if depth > MAX_JSON_DEPTH:
        yield "\x00"
    elif isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _json_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, depth + 1)


def request_texts(req: Request) -> Iterable[str]:
    """Every piece of text of the request that a view may pass on to the database."""
    yield req.path
    if req.query_string:
        for key, value in req.args.items(multi=True):
            yield key
            yield value
    if req.view_args:
        for key, value in req.view_args.items():
            yield key
            if isinstance(value, str):
                yield value
    if req.method in ("POST", "PUT", "PATCH", "DELETE"):
        if req.is_json or req.blueprint == "api":
            try:
                body = req.get_json(force=True, silent=True)
            except RecursionError:  # nested deeper than the parser's stack: refused as unsafe
                body = "\x00"
            yield from _json_strings(body)
        else:
            for key, value in req.form.items(multi=True):
                yield key
                yield value
            for key, upload in req.files.items(multi=True):
                yield key
                yield upload.filename or ""


def refuse_unstorable() -> None:
    """Before every view: a 400 for a request carrying unstorable text."""
    req = request._get_current_object()  # type: ignore[attr-defined]  # once, not per field
    if req.endpoint == "static":
        return
    if any_unstorable(request_texts(req)):
        raise UnstorableInput()


def default_no_store(response: Response) -> Response:
    """After every view but static files: never cached (a view may only make it stricter)."""
    if request.endpoint != "static":
        no_store(response)
    return response


def init_hardening(app: Flask) -> None:
    """Register the input guard (first before-request hook) and the caching default."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_unstorable)
    app.after_request(default_no_store)
