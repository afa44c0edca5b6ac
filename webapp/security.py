"""Security headers on every response (CSP without inline script, no framing, nosniff)."""

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def add_security_headers(response: Response, config: Mapping[str, Any]) -> Response:
    """Set the headers on ``response`` (those already set are kept): after every Flask view and
    in the token poll's WSGI lane (webapp/codes/lane.py)."""
    headers = response.headers
    wanted = HEADERS + (HSTS,) if config.get("SESSION_COOKIE_SECURE") else HEADERS
    present = {key.lower() for key in headers.keys()}  # one pass, not one per header
    headers.extend([(k, v) for k, v in wanted if k.lower() not in present])
    return response


def init_security(app: Flask) -> None:
    """Register the after-request hook that sets the headers (those a view set are kept)."""

    def set_security_headers(response: Response) -> Response:
        return add_security_headers(response, app.config)

    app.after_request(set_security_headers)
