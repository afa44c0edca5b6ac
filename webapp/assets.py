"""Static files: content-hash fingerprints in their URLs, cache headers, compressed answers.

Every ``url_for('static', filename=…)`` gets ``?v=<first 12 hex of the file's SHA-256>``
(a ``url_defaults`` hook: templates keep writing plain ``url_for``). A request carrying the
file's current fingerprint is answered ``Cache-Control: public, max-age=31536000, immutable``
— a changed file gets a new URL, so a browser never asks again; one without it (or with an old
one) gets a short public cache, so a bookmarked or hand-typed URL still updates soon.

Answers are compressed (flask-compress: zstd, brotli, gzip, as the client accepts) — pages,
JSON and static files alike; a reverse proxy may do it instead (``COMPRESS_REGISTER=False``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request, url_for
from flask_compress import Compress

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
PARAM = "v"

compress = Compress()


def fingerprint(filename: str) -> str:
    """The file's content fingerprint ('' for a missing file); computed once per file and
    process (again after a change when templates auto-reload, i.e. in development)."""
    app = current_app
    cache: dict[str, tuple[float, str]] = app.extensions.setdefault("static_fingerprints", {})
    known = cache.get(filename)
    watch = app.debug or bool(app.config.get("TEMPLATES_AUTO_RELOAD"))
    if known is not None and not watch:
        return known[1]
    folder = app.static_folder
    path = (Path(folder) / filename) if folder else None
    try:
        stamp = path.stat().st_mtime if path else 0.0
    except OSError:
        return ""
    if known is not None and known[0] == stamp:
        return known[1]
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path else ""
    except OSError:
        return ""
    cache[filename] = (stamp, digest)
    return digest


def static_url(filename: str) -> str:
    """``url_for('static', filename=…)`` with its fingerprint, built once per file and script
    root (the base layout asks for five of them on every page); rebuilt while templates
    auto-reload (development), so that a changed file gets its new fingerprint."""
    app = current_app
    if app.debug or app.config.get("TEMPLATES_AUTO_RELOAD"):
        return url_for("static", filename=filename)
    cache: dict[tuple[str, str], str] = app.extensions.setdefault("static_urls", {})
    key = (request.script_root if request else "", filename)
    url = cache.get(key)
    if url is None:
        url = cache[key] = url_for("static", filename=filename)
    return url


def _add_fingerprint(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "static" and PARAM not in values and isinstance(values.get("filename"), str):
        digest = fingerprint(values["filename"])
        if digest:
            values[PARAM] = digest


def _static_cache(response: Response) -> Response:
    if request.endpoint != "static" or response.status_code not in (200, 304):
        return response
    filename = (request.view_args or {}).get("filename", "")
    given = request.args.get(PARAM)
    immutable = bool(given) and given == fingerprint(filename)
    response.headers["Cache-Control"] = IMMUTABLE if immutable else SHORT
    return response


def init_assets(app: Flask) -> None:
    """Fingerprinted static URLs, their cache headers, compression."""
    app.config.setdefault("COMPRESS_ALGORITHM", ["zstd", "br", "gzip"])
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "text/javascript", "application/javascript",
        "application/json", "image/svg+xml"])
    compress.init_app(app)
    app.url_defaults(_add_fingerprint)
    app.add_template_global(static_url, "static_url")
    app.after_request(_static_cache)
