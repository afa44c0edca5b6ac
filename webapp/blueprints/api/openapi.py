"""The OpenAPI 3.0 document of the POS API, built from the same tables the views use.

Served at ``/api/openapi.json``. Request schemas mirror ``validation.py`` exactly (what the
schema rejects the API rejects with ``invalid_request``); each error response lists, as an
``enum``, exactly the error codes that operation can answer with that status, so a schema
check also checks the code. ``tests/test_api_schema.py`` runs schemathesis against it.
"""

from __future__ import annotations

from copy import deepcopy
from functools import lru_cache

from webapp.blueprints.api.errors import ERRORS
from webapp.blueprints.api.validation import (
    CODE_MAX,
    ITEM_NAME_MAX,
    ITEMS_MAX,
    QUANTITY_MAX,
    TOKEN_MAX,
)

# Printable text with at least one non-space character (no control characters).
PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$"

VERIFY_ERRORS = ("invalid_request", "unauthorized", "unknown_code", "used", "binding_ended",
                 "not_insured", "expired", "payload_too_large", "rate_limited")
SETTLE_ERRORS = ("invalid_request", "token_invalid", "unauthorized", "used", "binding_ended",
                 "not_insured", "insufficient", "token_expired", "payload_too_large",
                 "invalid_amount", "invalid_items", "unsupported_business_type",
                 "rate_limited")
GET_ERRORS = ("unauthorized", "not_found")

SCHEMAS = {
    "VerifyRequest": {
        "type": "object",
        "description": "扫码或手工录入的医保码（大小写、空格和连字符不敏感）。",
        "required": ["code"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "minLength": 1, "maxLength": CODE_MAX,
                     "example": "ABCDEF GHJKLM NPQRST"},
        },
    },
    "Verification": {
        "type": "object",
        "description": "解码结果（与国家医保电子凭证终端解码返回的字段对应），姓名与证件号已脱敏。",
        "required": ["id_type", "id_number", "name", "gender", "birth_date", "age",
                     "insured_region", "insurance_type", "insurance_type_name", "balance_fen",
                     "aid_available_fen", "max_amount_fen", "shown_by", "shown_by_text",
                     "settlement_token", "token_expires_at"],
        "additionalProperties": False,
        "properties": {
            "id_type": {"type": "string", "enum": ["01"], "description": "证件类型：01 居民身份证"},
            "id_number": {"type": "string", "pattern": "^[0-9]{4}\\*{10}[0-9]{3}[0-9X]$",
                          "description": "脱敏的证件号码（前 4 位与后 4 位可见）",
                          "example": "3601**********123X"},
            "name": {"type": "string", "minLength": 1, "description": "脱敏姓名",
                     "example": "张*明"},
            "gender": {"type": "string", "enum": ["1", "2"],
                       "description": "性别（GB/T 2261.1）：1 男，2 女"},
            "birth_date": {"type": "string", "format": "date"},
            "age": {"type": "integer", "minimum": 0, "description": "今日周岁"},
            "insured_region": {"type": "string", "pattern": "^[0-9]{2}0000$",
                               "description": "参保地（省级行政区划代码）", "example": "360000"},
            "insurance_type": {"type": "string", "enum": ["310", "390"],
                               "description": "险种类型：310 职工基本医疗保险，390 城乡居民基本医疗保险"},
            "insurance_type_name": {"type": "string",
                                    "enum": ["职工基本医疗保险", "城乡居民基本医疗保险"]},
            "balance_fen": {"type": "integer", "minimum": 0,
                            "description": "参保人本人个人账户余额（分）"},
            "aid_available_fen": {"type": "integer", "minimum": 0,
                                  "description": "家庭共济可用额度（分）"},
            "max_amount_fen": {"type": "integer", "minimum": 1,
                               "description": "本药店单笔结算上限（分）"},
            "shown_by": {"type": "string", "enum": ["self", "relative"],
                         "description": "self 本人出示；relative 亲属代为出示（亲情账户）"},
            "shown_by_text": {"type": "string", "example": "由 李*（母亲）代为出示"},
            "settlement_token": {"type": "string", "minLength": 1, "maxLength": TOKEN_MAX,
                                 "description": "结算凭证：仅本药店可用，单次有效"},
            "token_expires_at": {"type": "string", "format": "date-time"},
        },
    },
    "Item": {
        "type": "object",
        "required": ["name", "quantity", "amount_fen"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": ITEM_NAME_MAX,
                     "pattern": PRINTABLE, "example": "布洛芬缓释胶囊"},
            "quantity": {"type": "integer", "minimum": 1, "maximum": QUANTITY_MAX},
            "amount_fen": {"type": "integer", "minimum": 0, "description": "该项金额（分）"},
        },
    },
    "SettlementRequest": {
        "type": "object",
        "description": (
            "用解码得到的结算凭证结算。金额为整数分；明细金额之和必须等于 amount_fen，"
            "否则 422 invalid_amount；明细合成的文字超过 200 字时 422 invalid_items。"
        ),
        "required": ["settlement_token", "business_type", "amount_fen", "items"],
        "additionalProperties": False,
        "properties": {
            "settlement_token": {"type": "string", "minLength": 1, "maxLength": TOKEN_MAX},
            "business_type": {
                "type": "string", "pattern": "^[0-9]{5}$", "example": "02121",
                "description": "业务类型。支持：02121 药店购药；其他取值 422 unsupported_business_type",
            },
            "amount_fen": {
                "type": "integer", "minimum": 1, "example": 2350,
                "description": "结算总金额（分）。≤ 0 或超过药店所在地政策上限：422 invalid_amount",
            },
            "items": {"type": "array", "minItems": 1, "maxItems": ITEMS_MAX,
                      "items": {"$ref": "#/components/schemas/Item"}},
            "allow_self_pay": {
                "type": "boolean", "default": True,
                "description": "账户余额不足时差额由个人自付；false 时不足则 409 insufficient",
            },
        },
    },
    "Settlement": {
        "type": "object",
        "description": "结算单：total = 个人账户 + 共济 + 个人自付（分）",
        "required": ["settlement_id", "business_type", "total_fen", "personal_account_fen",
                     "aid_fen", "self_pay_fen", "items", "shown_by", "created_at"],
        "additionalProperties": False,
        "properties": {
            "settlement_id": {"type": "string", "minLength": 1},
            "business_type": {"type": "string", "pattern": "^[0-9]{5}$"},
            "total_fen": {"type": "integer", "minimum": 1},
            "personal_account_fen": {"type": "integer", "minimum": 0},
            "aid_fen": {"type": "integer", "minimum": 0},
            "self_pay_fen": {"type": "integer", "minimum": 0},
            "items": {"type": "string", "example": "布洛芬缓释胶囊×1 ¥23.50"},
            "shown_by": {"type": "string", "enum": ["self", "relative"]},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
}


def error_schema(codes: list[str]) -> dict:
    """``{"error": {"code", "message", "field"?}}`` with ``code`` limited to ``codes``."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": sorted(codes)},
                    "message": {"type": "string", "minLength": 1, "description": "中文说明"},
                    "field": {"type": "string", "description": "出错的请求字段"},
                },
            }
        },
    }


def error_responses(codes: tuple[str, ...]) -> dict:
    """One response per status, each naming the codes it carries."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERRORS[code][0], []).append(code)
    responses = {}
    for status, names in sorted(by_status.items()):
        lines = "；".join(f"{name}：{ERRORS[name][1]}" for name in names)
        responses[str(status)] = {
            "description": lines,
            "content": {"application/json": {"schema": error_schema(names)}},
        }
    return responses


def json_body(ref: str) -> dict:
    return {"required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def ok(ref: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


@lru_cache(maxsize=1)
def _document() -> dict:
    created = ok("Settlement", "已结算")
    created["headers"] = {"Location": {"description": "该结算单的地址", "required": True,
                                       "schema": {"type": "string"}}}
    created["links"] = {"GetSettlement": {
        "operationId": "getSettlement",
        "parameters": {"settlement_id": "$response.body#/settlement_id"},
    }}
    verified = ok("Verification", "医保码有效：参保人信息（脱敏）与结算凭证")
    verified["links"] = {"Settle": {
        "operationId": "createSettlement",
        "requestBody": {"settlement_token": "$response.body#/settlement_token",
                        "business_type": "02121", "amount_fen": 100,
                        "items": [{"name": "布洛芬缓释胶囊", "quantity": 1, "amount_fen": 100}]},
    }}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "亲情医保 定点药店 POS 接口",
            "version": "1.0.0",
            "description": (
                "按国家医保电子凭证终端流程（XJ-D01-2019）：先解码医保码，得到证件类型与号码、姓名、"
                "参保地、性别、出生日期和结算凭证；再用结算凭证按业务类型（02121 药店购药）结算。"
                "金额一律为整数分。每个药店用自己的 API 密钥（请求头 X-API-Key）访问。"
                "错误统一为 {\"error\": {\"code\", \"message\"}}，code 稳定不变。"
            ),
        },
        "security": [{"ApiKeyAuth": []}],
        "paths": {
            "/api/v1/codes/verify": {
                "post": {
                    "operationId": "verifyCode",
                    "summary": "解码医保码",
                    "description": "医保码单次使用，有效期按参保地政策（默认 90 秒）；结算凭证绑定本药店，有效期见 token_expires_at。",
                    "requestBody": json_body("VerifyRequest"),
                    "responses": {"200": verified, **error_responses(VERIFY_ERRORS)},
                }
            },
            "/api/v1/settlements": {
                "post": {
                    "operationId": "createSettlement",
                    "summary": "结算",
                    "description": "个人账户 → 家庭共济 → 个人自付，一个事务内完成；同一医保码只能结算一次。",
                    "requestBody": json_body("SettlementRequest"),
                    "responses": {"201": created, **error_responses(SETTLE_ERRORS)},
                }
            },
            "/api/v1/settlements/{settlement_id}": {
                "get": {
                    "operationId": "getSettlement",
                    "summary": "查询本药店的结算单",
                    "parameters": [{"name": "settlement_id", "in": "path", "required": True,
                                    "schema": {"type": "string", "minLength": 1,
                                               "maxLength": 40}}],
                    "responses": {"200": ok("Settlement", "结算单"),
                                  **error_responses(GET_ERRORS)},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                               "description": "qy_<prefix>_<secret>，由 `flask api-key create` 生成"},
            },
            "schemas": SCHEMAS,
        },
    }


def build_document() -> dict:
    """A copy of the document (callers may not change the cached one)."""
    return deepcopy(_document())
