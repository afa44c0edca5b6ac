"""Pages per proof material (policy table ``material_pages``): how many pages one material
takes and which pages they are (户口本: 首页 and the relative's own page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.policy_checks import Context, an_object, at_least

# A material the table does not name takes one page at least and this many at most.
DEFAULT_MAX = 4


@dataclass(frozen=True)
class MaterialPages:
    """Page count bounds of one material and the words naming its pages ('' when none)."""

    min: int = 1
    max: int = DEFAULT_MAX
    hint: str = ""


def pages_table(raw: Any, ctx: Context) -> dict[str, MaterialPages]:
    """The checked ``material_pages`` object: material code → MaterialPages."""
    path = "material_pages"
    an_object(raw, path, ctx, raw if isinstance(raw, dict) else ())
    out: dict[str, MaterialPages] = {}
    for code, body in raw.items():
        where = f"{path}.{code}"
        if code not in ctx.materials:
            raise ctx.fail(where, "is not a known material code")
        an_object(body, where, ctx, ("min", "max", "hint"), ("min", "max"))
        low = at_least(1)(body["min"], f"{where}.min", ctx)
        high = at_least(low)(body["max"], f"{where}.max", ctx)
        hint = body.get("hint", "")
        if not isinstance(hint, str):
            raise ctx.fail(f"{where}.hint", "must be a string")
        out[code] = MaterialPages(low, high, hint)
    return out
