"""Helpers shared by the views: the acting client, domain errors onto forms, access decorators."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, request
from flask_login import current_user, login_required

from webapp.audit.services import Actor
from webapp.domain import DomainError
from webapp.extensions import db

# Page numbers past this are clamped: no list of the app has anywhere near that many pages,
# and OFFSET (page - 1) * per_page must stay far inside a 64-bit integer on every database.
MAX_PAGE = 10_000


def current_actor() -> Actor:
    """The Actor for this request: the logged-in user (if any), IP and user agent."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return Actor(
        user=user,
        ip=request.remote_addr or "",
        user_agent=printable(request.user_agent.string or "")[:200],
    )


def printable(text: str) -> str:
    """``text`` without control characters (a header may carry NUL; no column can store it)."""
    if text.isprintable():
        return text  # the usual case, checked in C: no per-character loop
    return "".join(ch for ch in text if ch.isprintable())


def page_number(name: str = "page") -> int:
    """The list page asked for in the query string, clamped to 1..MAX_PAGE (not a number: 1)."""
    raw = request.args.get(name, "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(MAX_PAGE)):  # never int() a 10 000-digit string
        return MAX_PAGE
    return max(1, min(int(digits), MAX_PAGE))


def attempt(form: Any, fn: Callable, *args, **kwargs) -> Any:
    """Call a service; a DomainError becomes an error on its field (or the form) and None.

    The session is rolled back on error so that nothing half-done survives.
    """
    try:
        return fn(*args, **kwargs)
    except DomainError as err:
        db.session.rollback()
        field = getattr(form, err.field, None) if err.field else None
        if field is not None:
            field.errors = [*field.errors, err.message]
        else:
            form.form_errors.append(err.message)
        return None


def role_required(*roles: str) -> Callable:
    """Require a logged-in user whose role is one of ``roles`` (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def no_store(response):
    """Pages and answers with personal data, codes, tokens or money: never cached anywhere."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def safe_next(url: str | None, default: str = "/") -> str:
    """A local redirect target (path only) or the default; never another host."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    return url
