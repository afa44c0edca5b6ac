"""The API's error answers: one table of stable codes, and the one mapping of service errors.

Every error leaves the API as ``{"error": {"code": "...", "message": "中文消息"}}`` (plus
``"field"`` naming the offending request field when there is one) with the status of
``ERRORS[code]``. The codes are part of the API contract (they are the ``enum`` of the
OpenAPI ``Error`` schema): add codes, never rename them.
"""

from __future__ import annotations

from flask import current_app, jsonify
from werkzeug.exceptions import HTTPException

from webapp.blueprints.api import bp
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.web import no_store

# API error code → (HTTP status, default Chinese message).
ERRORS: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "请求格式有误"),
    "token_invalid": (400, "结算凭证无效，请重新扫码"),
    "unauthorized": (401, "缺少或无效的 API 密钥"),
    "unknown_code": (404, "无效的医保码"),
    "not_found": (404, "请求的资源不存在"),
    "method_not_allowed": (405, "不支持该请求方法"),
    "used": (409, "该医保码已使用"),
    "binding_ended": (409, "该亲属绑定已解除，医保码无效"),
    "not_insured": (409, "该参保人当前未处于参保状态"),
    "insufficient": (409, "账户余额不足"),
    "expired": (410, "医保码已过期，请让顾客刷新后重新出示"),
    "token_expired": (410, "结算凭证已过期，请重新扫码"),
    "payload_too_large": (413, "请求体过大"),
    "invalid_amount": (422, "金额无效"),
    "invalid_items": (422, "药品明细无效"),
    "unsupported_business_type": (422, "不支持的业务类型"),
    "rate_limited": (429, "请求过于频繁，请稍后再试"),
    "internal_error": (500, "服务暂时出现问题，请稍后再试"),
}

# THE mapping: DomainError.code of webapp.codes.settlement → API error code. The service's
# Chinese message is passed through; the status comes from ERRORS.
SERVICE_CODES: dict[str, str] = {
    "unknown": "unknown_code",
    "expired": "expired",
    "used": "used",
    "binding_ended": "binding_ended",
    "not_insured": "not_insured",
    "token_invalid": "token_invalid",
    "token_expired": "token_expired",
    "insufficient": "insufficient",
    "invalid_amount": "invalid_amount",
    "invalid_items": "invalid_items",
    "invalid_business_type": "unsupported_business_type",
}

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
    code = SERVICE_CODES.get(err.code)
    if code is None:
        current_app.logger.warning("API: unmapped service error code %r", err.code)
        code = "invalid_request"
    return ApiError(code, err.message, field=None)


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


@bp.errorhandler(DomainError)
def domain_error(err: DomainError):
    db.session.rollback()
    return error_response(from_domain(err))


def _http_error(err: HTTPException):
    db.session.rollback()
    code = HTTP_CODES.get(err.code or 500, "invalid_request")
    response = error_response(ApiError(code))
    if err.code == 405 and getattr(err, "valid_methods", None):
        response.headers["Allow"] = ", ".join(err.valid_methods)
    return response


for _status in HTTP_CODES:
    bp.register_error_handler(_status, _http_error)
