"""Template filters and globals: masking, money in yuan, China time."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from markupsafe import Markup

from webapp import clock
from webapp.clock import china_time
from webapp.invitations.states import InvitationOutcome, InvitationStatus
from webapp.kinship.states import BindingStatus
from webapp.masking import mask_id, mask_name, mask_phone
from webapp.messages import queries as messages
from webapp.money import yuan
from webapp.navigation import parent_of
from webapp.regions import province_name
from webapp.services_catalog import service_url

# Vendored front-end files (see static/vendor/README.md); one place names their paths.
VENDOR = {
    "weui": "vendor/weui-2.6.26/weui.subset.css",  # bench/weui_subset.py
    "signature_pad": "vendor/signature_pad-5.1.4/signature_pad.umd.min.js",
    "jsqr": "vendor/jsqr-1.4.0/jsQR.js",
}


def init_templating(app: Flask) -> None:
    """Register the filters and globals."""
    app.add_template_filter(yuan)
    app.add_template_filter(china_time)
    app.add_template_filter(mask_id)
    app.add_template_filter(mask_name)
    app.add_template_filter(mask_phone)
    app.add_template_filter(province_name)
    app.add_template_global(clock.today, "today")
    app.add_template_global(parent_of, "parent_of")  # the back arrow of a flow's step
    app.jinja_env.globals["VENDOR"] = VENDOR
    for enum in (BindingStatus, InvitationOutcome, InvitationStatus):  # compare with the enum
        app.add_template_global(enum, enum.__name__)
    init_context(app)


def elder_mode() -> bool:
    """Whether the page is shown in 长辈模式 (the user's setting, or a cookie before login)."""
    if current_user.is_authenticated:
        return bool(current_user.elder_mode)
    return request.cookies.get("elder_mode") == "1"


def unread_messages() -> int:
    """Unread count, counted once per request (the tab bar and 我的 both show it)."""
    if not (current_user.is_authenticated and current_user.person_id):
        return 0
    if "unread_messages" not in g:
        g.unread_messages = messages.unread_count(current_user.person_id)
    return g.unread_messages


TABBAR = "_partials/tabbar.html"
TABBAR_CACHE_SIZE = 512


def tabbar() -> Markup:
    """The tab bar, rendered once per (endpoint, who, unread count, 长辈模式) and reused: it
    is the same on every page of a section, and rendering it (four icons, four url_for) was
    a third of a code page's template time. Not cached while templates auto-reload (dev).

    What tabbar.html may depend on is exactly the key below: a new dependency goes there.
    """
    app = current_app
    authenticated = bool(current_user.is_authenticated)
    key = (request.endpoint, request.script_root, authenticated,
           current_user.role if authenticated else None, min(unread_messages(), 100),
           elder_mode())
    cache: dict = app.extensions.setdefault("tabbar_cache", {})
    html = cache.get(key)
    if html is None:
        html = Markup(render_template(TABBAR))
        if not (app.debug or app.config.get("TEMPLATES_AUTO_RELOAD")):
            if len(cache) >= TABBAR_CACHE_SIZE:
                cache.clear()
            cache[key] = html
    return html


def init_context(app: Flask) -> None:
    """Globals that depend on the request: 长辈模式, unread badge, service links, tab bar."""
    app.add_template_global(tabbar, "tabbar")

    @app.context_processor
    def shell_context() -> dict[str, Any]:
        return {
            "elder_mode": elder_mode,
            "unread_messages": unread_messages,
            "service_url": service_url,
        }
