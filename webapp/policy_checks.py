"""The policy file's value checkers: each takes (value, key path, context) and returns the
cleaned value or raises PolicyError naming the file and the key path."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class PolicyError(Exception):
    """The policy file is missing, malformed or inconsistent (message names the key path)."""


Check = Callable[[Any, str, "Context"], Any]


@dataclass
class Context:
    """What a checker needs: the file name (for messages) and the declared codes."""

    source: str
    relations: Mapping[str, str] = field(default_factory=dict)
    materials: Mapping[str, str] = field(default_factory=dict)

    def fail(self, path: str, problem: str) -> PolicyError:
        """A PolicyError naming the file and the key path."""
        return PolicyError(f"{self.source}: {path} {problem}")


def at_least(minimum: int) -> Check:
    """Checker for an integer >= minimum (booleans refused)."""
    words = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def check(value: Any, path: str, ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ctx.fail(path, f"must be {words}")
        return value

    return check


def optional_int(value: Any, path: str, ctx: Context) -> int | None:
    """A positive integer or null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ctx.fail(path, "must be a positive integer or null")
    return value


def boolean(value: Any, path: str, ctx: Context) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ctx.fail(path, "must be true or false")
    return value


def text(value: Any, path: str, ctx: Context) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(path, "must be a non-empty string")
    return value


def codes(kind: str, known: Callable[[Context], Any]) -> Check:
    """Checker for a non-empty list of distinct codes, each one of ``known(ctx)``."""

    def check(value: Any, path: str, ctx: Context) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise ctx.fail(path, f"must be a non-empty list of {kind} codes")
        allowed = known(ctx)
        for item in value:
            if not isinstance(item, str) or item not in allowed:
                raise ctx.fail(path, f"has unknown {kind} code {item!r}")
        if len(set(value)) != len(value):
            raise ctx.fail(path, f"lists a {kind} code twice")
        return tuple(value)

    return check


def an_object(value: Any, path: str, ctx: Context, allowed, required=()) -> dict[str, Any]:
    """An object whose keys are all allowed and include every required one."""
    if not isinstance(value, dict):
        raise ctx.fail(path or "top level", "must be an object")
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in allowed:
            raise ctx.fail(f"{prefix}{key}", "is not a known key")
    for key in required:
        if key not in value:
            raise ctx.fail(f"{prefix}{key}", "is missing")
    return value


def labels(raw: Any, path: str, ctx: Context) -> dict[str, str]:
    """An object of code → Chinese label (codes lower-case snake_case)."""
    an_object(raw, path, ctx, raw if isinstance(raw, dict) else ())
    if not raw:
        raise ctx.fail(path, "must not be empty")
    for code, label in raw.items():
        if not re.fullmatch(r"[a-z][a-z_]*", code):
            raise ctx.fail(f"{path}.{code}", "is not a valid code (lower-case letters and _)")
        text(label, f"{path}.{code}", ctx)
    return dict(raw)


