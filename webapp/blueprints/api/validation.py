"""Request bodies parsed by the pydantic models of ``webapp.api.schemas`` (the one source).

Malformed JSON, JSON nested deeper than ``MAX_DEPTH``, a missing field, a field of the wrong
type or outside its documented length / format, or an unknown field → ``invalid_request``
(400) naming the field, in Chinese.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from webapp.api.schemas import ITEMS_MAX
from webapp.blueprints.api.errors import ApiError

MAX_DEPTH = 16
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")
Model = TypeVar("Model", bound=BaseModel)


def _too_deep(raw: bytes) -> bool:
    """Whether the JSON text nests arrays / objects deeper than MAX_DEPTH (strings ignored)."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", raw)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > MAX_DEPTH:
            return True
    return False


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (any Content-Type is parsed as JSON)."""
    raw = request.get_data(cache=True)
    if _too_deep(raw):
        raise ApiError("invalid_request", f"JSON 嵌套不能超过 {MAX_DEPTH} 层")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ApiError("invalid_request", "请求体必须是 JSON 对象")
    return body


def _label(loc: tuple[int | str, ...]) -> str:
    """('items', 0, 'name') → 'items[0].name'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> tuple[str, str]:
    """The Chinese message and the field label of pydantic's first error."""
    loc = tuple(error["loc"])
    label = _label(loc)
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return f"缺少字段：{label}", label
    if kind == "extra_forbidden":
        return f"不支持的字段：{label}", label
    if loc and loc[0] == "items" and len(loc) == 1:
        return f"字段 items 应为 1 到 {ITEMS_MAX} 条药品明细的数组", label
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{label} 必须是对象", label
    if kind == "string_type":
        return f"字段 {label} 必须是字符串", label
    if kind.startswith("int_"):
        return f"字段 {label} 必须是整数", label
    if kind.startswith("bool"):
        return f"字段 {label} 必须是 true 或 false", label
    if kind in ("string_too_short", "string_too_long"):
        low = ctx.get("min_length", 1)
        high = ctx.get("max_length", ctx.get("min_length", ""))
        return f"字段 {label} 长度应为 {low} 到 {high} 个字符", label
    if kind == "greater_than_equal":
        return f"字段 {label} 不能小于 {ctx.get('ge')}", label
    if kind == "less_than_equal":
        return f"字段 {label} 不能大于 {ctx.get('le')}", label
    if kind == "string_pattern_mismatch" and label == "business_type":
        return "字段 business_type 应为 5 位数字业务类型编码", label
    if kind in ("list_type", "too_short", "too_long"):
        return f"字段 {label} 应为数组（最多 {ctx.get('max_length', '')} 条）", label
    if kind == "value_error":
        return f"字段 {label} {ctx.get('error', '无效')}", label
    if kind == "literal_error":
        return f"字段 {label} 应为 {ctx.get('expected', '')} 之一", label
    return f"字段 {label} 格式不正确", label


def parse(model: type[Model]) -> Model:
    """The request body validated by ``model``; the first problem as invalid_request."""
    body = json_object()
    try:
        return model.model_validate(body)
    except ValidationError as err:
        message, label = _message(err.errors(include_url=False)[0])
        raise ApiError("invalid_request", message, field=label or None) from None
