"""Domain errors raised by services, each carrying the Chinese message a user sees, and the
``command`` decorator that makes a service a unit of work."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from webapp.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


class DomainError(Exception):
    """A rule refused the action; ``field`` names the form field the message belongs to."""

    status = 400

    def __init__(self, message: str, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or "invalid"


class NotFound(DomainError):
    """The object does not exist or the actor may not see it (both look the same: 404)."""

    status = 404


class Forbidden(DomainError):
    """The actor is known but may not do this."""

    status = 403


class Conflict(DomainError):
    """The object changed under us (already decided, already used)."""

    status = 409


def command(fn: Callable[P, R]) -> Callable[P, R]:
    """A service command: when it refuses (DomainError) nothing it did survives — the session
    is rolled back before the error reaches the view, so views never touch the session."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DomainError:
            db.session.rollback()
            raise

    return wrapper
