"""Where the ‹ back arrow of a page in the middle of a flow goes: the flow's parent page, never
the browser history (which replays a form or a finished step)."""

from __future__ import annotations

from flask import current_app
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from webapp.web import safe_next


def route_of(path: str) -> str | None:
    """``path`` as the app serves it by GET (with the trailing slash its route has), or None."""
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except RequestRedirect as moved:
        return moved.new_url.split("localhost", 1)[-1]
    except HTTPException:
        return None
    return path


def parent_of(next_url: str | None, default: str = "/") -> str:
    """The parent page of a step that continues at ``next_url``: the nearest page above it
    ('/family/add/notice' → '/family/add/', '/invite/r/X/confirm' → '/invite/r/X')."""
    path = safe_next(next_url, default).split("?", 1)[0].split("#", 1)[0].rstrip("/")
    while path.count("/") > 1:
        path = path.rsplit("/", 1)[0]
        found = route_of(path)
        if found:
            return found
    return default
