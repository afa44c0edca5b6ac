"""THE error registry of settlement and the POS API: code → HTTP status → Chinese message.

Services raise ``fail(code)`` (a DomainError carrying the code, the message and the status);
the API answers ``{"error": {"code", "message"}}`` with the registry's status; the OpenAPI
document lists, per operation and status, exactly the codes of this table. Codes are part of
the API contract: add codes, never rename them. A few service codes predate the API and keep
their names inside Python (``service``): ``unknown`` is the API's ``unknown_code``.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.domain import Conflict, DomainError, NotFound


@dataclass(frozen=True)
class ErrorCode:
    """One stable error: its API code, HTTP status, default message, and service alias."""

    code: str
    status: int
    message: str
    service: str | None = None  # the DomainError.code services raise, when it differs

    @property
    def service_code(self) -> str:
        """The code a service's DomainError carries."""
        return self.service or self.code


_TABLE = (
    ErrorCode("invalid_request", 400, "请求格式有误"),
    ErrorCode("invalid_msgid", 400, "报文ID格式有误：应为本机构编号(12位)+时间(14位)+顺序号(4位)"),
    ErrorCode("token_invalid", 400, "结算凭证无效，请重新扫码"),
    ErrorCode("unauthorized", 401, "缺少或无效的 API 密钥"),
    ErrorCode("unknown_code", 404, "无效的医保码", service="unknown"),
    ErrorCode("not_found", 404, "请求的资源不存在"),
    ErrorCode("method_not_allowed", 405, "不支持该请求方法"),
    ErrorCode("used", 409, "该医保码已使用"),
    ErrorCode("binding_ended", 409, "该亲属绑定已解除，医保码无效"),
    ErrorCode("not_insured", 409, "该参保人当前未处于参保状态"),
    ErrorCode("insufficient", 409, "账户余额不足"),
    ErrorCode("msgid_conflict", 409, "该报文ID已用于另一笔不同的请求"),
    ErrorCode("reversed", 409, "该报文已被冲正，不再处理"),
    ErrorCode("not_reversible", 409, "该报文不能冲正（只能冲正结算、或未送达的报文）"),
    ErrorCode("cancel_window_closed", 409, "已超过可撤销的时间（仅限结算当日）"),
    ErrorCode("day_reconciled", 409, "该日已对账，结算不能再撤销"),
    ErrorCode("expired", 410, "医保码已过期，请让顾客刷新后重新出示"),
    ErrorCode("token_expired", 410, "结算凭证已过期，请重新扫码"),
    ErrorCode("payload_too_large", 413, "请求体过大"),
    ErrorCode("invalid_amount", 422, "请输入正确的金额"),
    ErrorCode("invalid_items", 422, "请填写药品或项目"),
    ErrorCode("unsupported_business_type", 422, "不支持的业务类型",
              service="invalid_business_type"),
    ErrorCode("invalid_reason", 422, "请填写撤销原因（不超过100个字）"),
    ErrorCode("invalid_reconciliation", 422, "对账数据有误"),
    ErrorCode("rate_limited", 429, "请求过于频繁，请稍后再试"),
    ErrorCode("internal_error", 500, "服务暂时出现问题，请稍后再试"),
)

REGISTRY: dict[str, ErrorCode] = {e.code: e for e in _TABLE}
# Service code → its registry entry (the API code when they differ).
BY_SERVICE_CODE: dict[str, ErrorCode] = {e.service_code: e for e in _TABLE}
# Service codes raised by the settlement services (everything but the HTTP envelope's own).
ENVELOPE = ("invalid_request", "unauthorized", "not_found", "method_not_allowed",
            "payload_too_large", "rate_limited", "internal_error")


def entry(code: str) -> ErrorCode:
    """The registry entry of an API or service code (KeyError for an unknown code)."""
    return REGISTRY.get(code) or BY_SERVICE_CODE[code]


def fail(code: str, message: str | None = None, field: str | None = None) -> DomainError:
    """The DomainError for a registry code (service spelling), with its status and message."""
    found = entry(code)
    kind: type[DomainError] = DomainError
    if found.status == 404:
        kind = NotFound
    elif found.status in (409, 410):
        kind = Conflict
    err = kind(message or found.message, field=field, code=found.service_code)
    err.status = found.status
    return err


def api_code(service_code: str) -> str | None:
    """The API code for a service's DomainError code (None when the registry lacks it)."""
    found = BY_SERVICE_CODE.get(service_code) or REGISTRY.get(service_code)
    return found.code if found else None


def service_messages() -> dict[str, str]:
    """Service code → default message, for the codes the settlement services raise."""
    return {e.service_code: e.message for e in _TABLE if e.code not in ENVELOPE}
