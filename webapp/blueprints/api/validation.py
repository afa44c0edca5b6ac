"""Strict request-body checks that mirror the OpenAPI schemas (see openapi.py).

Malformed JSON, a missing field, a field of the wrong type or outside its documented
length / format, or an unknown field → ``invalid_request`` (400) naming the field. Rules
about the money itself (amount ≤ 0 or over the policy maximum, items not adding up) are the
settlement's business → 422 ``invalid_amount`` / ``invalid_items`` / ``unsupported_business_type``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

from webapp.blueprints.api.errors import ApiError

CODE_MAX = 64
TOKEN_MAX = 128
ITEM_NAME_MAX = 40
ITEMS_MAX = 20
QUANTITY_MAX = 9999
BUSINESS_TYPE_RE = re.compile(r"[0-9]{5}")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (any Content-Type is parsed as JSON)."""
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "请求体必须是 JSON 对象")
    return body


def no_extras(body: dict, allowed: set[str], where: str = "") -> None:
    """Refuse fields the schema does not name (additionalProperties: false)."""
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError("invalid_request", f"不支持的字段：{where}{extra[0]}", field=where + extra[0])


def _missing(name: str) -> ApiError:
    return ApiError("invalid_request", f"缺少字段：{name}", field=name)


def string(body: dict, name: str, max_len: int, where: str = "", required: bool = True,
           printable: bool = False) -> str | None:
    """A string field of 1..max_len characters (valid Unicode; no control characters)."""
    label = where + name
    if name not in body:
        if required:
            raise _missing(label)
        return None
    value = body[name]
    if not isinstance(value, str):
        raise ApiError("invalid_request", f"字段 {label} 必须是字符串", field=label)
    if not 1 <= len(value) <= max_len:
        raise ApiError("invalid_request", f"字段 {label} 长度应为 1 到 {max_len} 个字符",
                       field=label)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError("invalid_request", f"字段 {label} 含有无效字符", field=label) from None
    if printable and (CONTROL_RE.search(value) or not value.strip()):
        raise ApiError("invalid_request", f"字段 {label} 不能为空白或含控制字符", field=label)
    return value


def integer(body: dict, name: str, where: str = "", minimum: int | None = None) -> int:
    """A JSON integer (no decimal point, not a boolean); below ``minimum`` → invalid_request."""
    label = where + name
    if name not in body:
        raise _missing(label)
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError("invalid_request", f"字段 {label} 必须是整数", field=label)
    if minimum is not None and value < minimum:
        raise ApiError("invalid_request", f"字段 {label} 不能小于 {minimum}", field=label)
    return value


def boolean(body: dict, name: str, default: bool) -> bool:
    """An optional JSON boolean."""
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, bool):
        raise ApiError("invalid_request", f"字段 {name} 必须是 true 或 false", field=name)
    return value


def verify_body() -> str:
    """``{"code": "..."}`` → the code text."""
    body = json_object()
    no_extras(body, {"code"})
    return string(body, "code", CODE_MAX)


def settle_body() -> dict[str, Any]:
    """The settlement request: token, business type, amount, items (strictly typed)."""
    body = json_object()
    no_extras(body, {"settlement_token", "business_type", "amount_fen", "items",
                     "allow_self_pay"})
    token = string(body, "settlement_token", TOKEN_MAX)
    business_type = string(body, "business_type", 5)
    if not BUSINESS_TYPE_RE.fullmatch(business_type):
        raise ApiError("invalid_request", "字段 business_type 应为 5 位数字业务类型编码",
                       field="business_type")
    amount_fen = integer(body, "amount_fen")
    if "items" not in body:
        raise _missing("items")
    raw_items = body["items"]
    if not isinstance(raw_items, list) or not 1 <= len(raw_items) <= ITEMS_MAX:
        raise ApiError("invalid_request", f"字段 items 应为 1 到 {ITEMS_MAX} 条药品明细的数组",
                       field="items")
    items = []
    for index, item in enumerate(raw_items):
        where = f"items[{index}]."
        if not isinstance(item, dict):
            raise ApiError("invalid_request", f"items[{index}] 必须是对象", field=f"items[{index}]")
        no_extras(item, {"name", "quantity", "amount_fen"}, where)
        name = string(item, "name", ITEM_NAME_MAX, where, printable=True)
        quantity = integer(item, "quantity", where, minimum=1)
        if quantity > QUANTITY_MAX:
            raise ApiError("invalid_request", f"字段 {where}quantity 不能大于 {QUANTITY_MAX}",
                           field=f"{where}quantity")
        item_fen = integer(item, "amount_fen", where, minimum=0)
        items.append({"name": name.strip(), "quantity": quantity, "amount_fen": item_fen})
    return {
        "token": token,
        "business_type": business_type,
        "amount_fen": amount_fen,
        "items": items,
        "allow_self_pay": boolean(body, "allow_self_pay", True),
    }
