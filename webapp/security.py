"""Security headers on every response (CSP without inline script, no framing, nosniff)."""

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


def init_security(app: Flask) -> None:
    """Register the after-request hook that sets the headers (those a view set are kept)."""

    def set_security_headers(response: Response) -> Response:
        headers = response.headers
        wanted = HEADERS + (HSTS,) if app.config.get("SESSION_COOKIE_SECURE") else HEADERS
        present = {key.lower() for key in headers.keys()}  # one pass, not one per header
        headers.extend([(k, v) for k, v in wanted if k.lower() not in present])
        return response

    app.after_request(set_security_headers)
