"""The OpenAPI 3.0 document of the POS API, generated from the pydantic models and the error
registry (no hand-written schema): served at ``/api/openapi.json``.

Each operation names its request and answer models and the error codes it can answer; every
error response lists, as an ``enum``, exactly the codes that operation answers with that
status, so a schema check also checks the code. ``tests/test_api_schema.py`` runs
schemathesis against it; ``tests/test_api_contract.py`` checks it equals what the models
generate.
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema

from webapp.api import schemas
from webapp.api.errors import REGISTRY

REF = "#/components/schemas/{model}"
REPLAY_HEADER = "X-Replay"
COMMON = ("invalid_request", "unauthorized", "payload_too_large", "rate_limited")
PURCHASE = ("token_invalid", "used", "binding_ended", "not_insured", "token_expired",
            "invalid_amount", "invalid_items", "unsupported_business_type")
MSGID = ("invalid_msgid", "msgid_conflict", "reversed")
WINDOW = ("cancel_window_closed", "day_reconciled")
EXAMPLE_MSGID = "P36010200001202605011030150001"
EXAMPLE_ITEMS = [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": 2350}]


class OpenApi30(GenerateJsonSchema):
    """pydantic's JSON Schema in OpenAPI 3.0 form: optional fields are left out, never null."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> dict[str, Any]:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        generated = super().default_schema(schema)
        if "default" in generated and generated["default"] is None:
            generated.pop("default")
        return generated


def _openapi30(node: Any) -> Any:
    """JSON Schema 2020-12 keywords OpenAPI 3.0 lacks → their 3.0 spelling; titles dropped."""
    if isinstance(node, list):
        return [_openapi30(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "examples" and isinstance(value, list) and value:
            out["example"] = value[0]
        else:
            out[key] = _openapi30(value)
    return out


@lru_cache(maxsize=1)
def component_schemas() -> dict[str, Any]:
    """Every model's schema, as the document's components (what the models generate)."""
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (m, "validation" if issubclass(m, schemas.Request) else "serialization")
        for m in schemas.COMPONENTS]
    _, top = models_json_schema(modes, ref_template=REF, schema_generator=OpenApi30)
    return {name: _openapi30(schema) for name, schema in sorted(top["$defs"].items())}


@dataclass(frozen=True)
class Operation:
    """One documented operation: its route, models, success status and error codes."""

    path: str
    method: str
    operation_id: str
    summary: str
    description: str
    answer: type[BaseModel]
    errors: tuple[str, ...]
    request: type[BaseModel] | None = None
    status: int = 200
    example: dict[str, Any] | None = None
    replay: bool = False  # answers 200 with X-Replay for a repeated msgid
    extra: dict[str, Any] = field(default_factory=dict)


SETTLEMENT_ID = {"name": "settlement_id", "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 40}}

OPERATIONS = (
    Operation("/api/v1/codes/verify", "post", "verifyCode", "解码医保码（1101）",
              "医保码单次使用，有效期按参保地政策（默认 90 秒）；结算凭证绑定本药店，有效期见 "
              "token_expires_at。", schemas.Verification,
              (*COMMON, "unknown_code", "used", "binding_ended", "not_insured", "expired", *MSGID),
              request=schemas.VerifyRequest, replay=True,
              example={"code": "ABCDEF GHJKLM NPQRST", "msgid": EXAMPLE_MSGID},
              extra={"links": {"Settle": {"operationId": "createSettlement", "requestBody": {
                  "settlement_token": "$response.body#/settlement_token",
                  "business_type": "02121", "amount_fen": 100,
                  "items": [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": 100}]}}}}),
    Operation("/api/v1/presettlements", "post", "presettle", "预结算（2101）",
              "按 个人账户 → 家庭共济 → 个人自付 试算拆分；不扣款，结算凭证不失效。",
              schemas.Presettlement, (*COMMON, *PURCHASE), request=schemas.PresettlementRequest,
              example={"settlement_token": "…", "business_type": "02121", "amount_fen": 2350,
                       "items": EXAMPLE_ITEMS}),
    Operation("/api/v1/settlements", "post", "createSettlement", "结算（2102）",
              "个人账户 → 家庭共济 → 个人自付，一个事务内完成；同一医保码只能结算一次。带 msgid 的重试"
              "返回原结算单（200，X-Replay: true），不会重复扣款。", schemas.Settlement,
              (*COMMON, *PURCHASE, "insufficient", *MSGID), request=schemas.SettlementRequest,
              status=201, replay=True,
              example={"msgid": EXAMPLE_MSGID, "settlement_token": "…", "business_type": "02121",
                       "amount_fen": 2350, "items": EXAMPLE_ITEMS},
              extra={"links": {"GetSettlement": {
                  "operationId": "getSettlement",
                  "parameters": {"settlement_id": "$response.body#/settlement_id"}}}}),
    Operation("/api/v1/settlements/{settlement_id}", "get", "getSettlement",
              "查询本药店的结算单", "其他药店的结算单与不存在的一样：404 not_found。",
              schemas.Settlement, ("invalid_request", "unauthorized", "not_found"),
              extra={"parameters": [SETTLEMENT_ID]}),
    Operation("/api/v1/settlements/{settlement_id}/cancel", "post", "cancelSettlement",
              "结算撤销（2103）",
              "整笔撤销：个人账户与共济按原路退回，现金部分记为现金退还；医保码仍为已使用。仅限结算当日且"
              "该日未对账。重复撤销返回第一次的结果。", schemas.Settlement,
              (*COMMON, "not_found", *MSGID, *WINDOW, "invalid_reason"),
              request=schemas.CancelRequest, replay=True,
              example={"msgid": EXAMPLE_MSGID, "reason": "顾客退货"},
              extra={"parameters": [SETTLEMENT_ID]}),
    Operation("/api/v1/reversals", "post", "reverse", "冲正（2601）",
              "撤销 original_msgid 所做的事：若已结算则整笔撤销；若从未到达则登记，此后该报文到达时拒绝"
              "（409 reversed）。冲正、撤销与解码报文不能冲正。", schemas.Reversal,
              (*COMMON, *MSGID, "not_reversible", *WINDOW), request=schemas.ReversalRequest,
              replay=True, example={"msgid": "P36010200001202605011031000001",
                                    "original_msgid": EXAMPLE_MSGID}),
    Operation("/api/v1/reconciliations", "post", "reconcileTotals", "对总账（3201）",
              "与我方该中国日的合计比对；一致（match）即对平，此后不能再撤销该日的结算。",
              schemas.ReconciliationResult, (*COMMON, "invalid_reconciliation"),
              request=schemas.ReconciliationRequest,
              example={"date": "2026-05-01", "count": 3, "total_fen": 7050, "account_fen": 5000,
                       "aid_fen": 1000, "cash_fen": 1050, "cancelled_count": 1,
                       "cancelled_fen": 2350}),
    Operation("/api/v1/reconciliations/details", "post", "reconcileDetails", "对明细账（3202）",
              "与我方该中国日的每笔结算比对：双方缺少的与不一致的。", schemas.DetailsResult,
              (*COMMON, "invalid_reconciliation"), request=schemas.DetailsRequest,
              example={"date": "2026-05-01", "settlements": [
                  {"settlement_id": "8Zq0eR", "amount_fen": 2350, "state": "settled"}]}),
)


def error_schema(codes: list[str]) -> dict[str, Any]:
    """The error envelope whose ``code`` is one of ``codes``."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "enum": sorted(codes)},
                "message": {"type": "string", "minLength": 1, "description": "中文说明"},
                "field": {"type": "string", "description": "出错的请求字段"},
            },
        }},
    }


def error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    """One response per status, each naming the codes it carries (from the registry)."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(REGISTRY[code].status, []).append(code)
    return {str(status): {
        "description": "；".join(f"{name}：{REGISTRY[name].message}" for name in names),
        "content": {"application/json": {"schema": error_schema(names)}},
    } for status, names in sorted(by_status.items())}


def _ok(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": REF.format(model=model.__name__)}}}}


def _operation(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.status): _ok(op.answer, op.summary + "：成功")}
    if op.status == 201:
        responses["201"]["headers"] = {"Location": {
            "description": "该结算单的地址", "required": True, "schema": {"type": "string"}}}
    if op.replay:
        header = {"description": "true：这是重试（或重复撤销），返回的是第一次的结果",
                  "required": op.status != 200,
                  "schema": {"type": "string", "enum": ["true"]}}
        if op.status == 200:
            responses["200"]["headers"] = {REPLAY_HEADER: header}
        else:
            replayed = _ok(op.answer, "同一 msgid、同一请求的重试：第一次的结果（未重复处理）")
            replayed["headers"] = {REPLAY_HEADER: header}
            responses["200"] = replayed
    for name in ("links",):
        if name in op.extra:
            responses[str(op.status)][name] = op.extra[name]
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                           "description": op.description}
    if "parameters" in op.extra:
        out["parameters"] = op.extra["parameters"]
    if op.request is not None:
        media: dict[str, Any] = {"schema": {"$ref": REF.format(model=op.request.__name__)}}
        if op.example is not None:
            media["example"] = op.example
        out["requestBody"] = {"required": True, "content": {"application/json": media}}
    out["responses"] = {**responses, **error_responses(op.errors)}
    return out


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "亲情医保 定点药店 POS 接口",
            "version": "1.1.0",
            "description": (
                "按国家医保电子凭证终端流程（XJ-D01-2019）与定点药店交易（1101 解码、2101 预结算、"
                "2102 结算、2103 结算撤销、2601 冲正、3201 对总账、3202 对明细账）。金额一律为整数分。"
                "每个药店用自己的 API 密钥（请求头 X-API-Key）访问。改变状态的请求带报文ID msgid"
                "（本机构编号12位 + yyyyMMddHHmmss + 4位顺序号），重试时原样重发即可。"
                "错误统一为 {\"error\": {\"code\", \"message\"}}，code 稳定不变。"
            ),
        },
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                               "description": "qy_<prefix>_<secret>，由 `flask api-key create` 生成"},
            },
            "schemas": component_schemas(),
        },
    }


def build_document() -> dict[str, Any]:
    """A copy of the document (callers may not change the cached one)."""
    return deepcopy(_document())
