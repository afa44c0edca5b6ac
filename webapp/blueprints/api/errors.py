"""The API's error answers: the registry's codes, and the one mapping of service errors.

Every error leaves the API as ``{"error": {"code": "...", "message": "中文消息"}}`` (plus
``"field"`` naming the offending request field when there is one) with the status of the code
in the one registry ``webapp.api.errors`` (which the services and the OpenAPI document use).
"""

from __future__ import annotations

from flask import current_app, jsonify
from werkzeug.exceptions import HTTPException

from webapp.api.errors import BY_SERVICE_CODE, REGISTRY, api_code
from webapp.blueprints.api import bp
from webapp.domain import DomainError
from webapp.extensions import add_retry_after, db
from webapp.web import no_store

# API error code → (HTTP status, default Chinese message), from the registry.
ERRORS: dict[str, tuple[int, str]] = {c: (e.status, e.message) for c, e in REGISTRY.items()}

# THE mapping: DomainError.code of the services → API error code (from the registry).
SERVICE_CODES: dict[str, str] = {service: e.code for service, e in BY_SERVICE_CODE.items()}

# Werkzeug / Flask-Limiter HTTP errors raised around the views → API error code.
HTTP_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    403: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
}


class ApiError(Exception):
    """An API-level refusal (bad key, malformed body, no such settlement)."""

    def __init__(self, code: str, message: str | None = None, field: str | None = None):
        super().__init__(code)
        self.code = code
        self.message = message or ERRORS[code][1]
        self.field = field

    @property
    def status(self) -> int:
        """The HTTP status of the code."""
        return ERRORS[self.code][0]


def from_domain(err: DomainError) -> ApiError:
    """The API error for a service's DomainError (by SERVICE_CODES; unmapped → 400)."""
    code = api_code(err.code)
    if code is None:
        current_app.logger.warning("API: unmapped service error code %r", err.code)
        code = "invalid_request"
    return ApiError(code, err.message, field=_field(err))


def _field(err: DomainError) -> str | None:
    """The request field a service error names, in the API's spelling (settlement fields)."""
    return {"amount": "amount_fen"}.get(err.field or "", err.field) if err.field else None


def error_response(err: ApiError):
    """The JSON error answer (never cached; 401 says how to authenticate)."""
    body = {"code": err.code, "message": err.message}
    if err.field:
        body["field"] = err.field
    response = jsonify(error=body)
    response.status_code = err.status
    no_store(response)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
    return response


@bp.errorhandler(ApiError)
def api_error(err: ApiError):
    db.session.rollback()
    return error_response(err)


@bp.errorhandler(RecursionError)
def too_deep(err: RecursionError):
    """JSON nested too deep for the parser (also when a guard before the view parses it)."""
    db.session.rollback()
    return error_response(ApiError("invalid_request", "JSON 嵌套层数过多"))


@bp.errorhandler(DomainError)
def domain_error(err: DomainError):
    db.session.rollback()
    return error_response(from_domain(err))


def _http_error(err: HTTPException):
    db.session.rollback()
    code = HTTP_CODES.get(err.code or 500, "invalid_request")
    response = error_response(ApiError(code))
    valid_methods = getattr(err, "valid_methods", None)
    if err.code == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return add_retry_after(response)


for _status in HTTP_CODES:
    bp.register_error_handler(_status, _http_error)
