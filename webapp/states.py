"""States as types: a StrEnum per aggregate with its Chinese label and pill kind, transition
tables, and the status column whose CHECK constraint is generated from the enum.

An aggregate's ``states.py`` declares::

    class BindingStatus(State):
        PENDING_CONFIRM = "pending_confirm", "待确认", "wait"
        ACTIVE = "active", "已绑定", "ok"

    TRANSITIONS = Transitions(BindingStatus, [
        Transition(BindingStatus.PENDING_CONFIRM, "accept", BindingStatus.ACTIVE,
                   who={"member"}, notify=("accepted",)),
    ])

and its model uses ``status_column(BindingStatus)`` plus ``status_check(BindingStatus)`` in
``__table_args__``. Members compare equal to their stored strings, so rows keep their values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from sqlalchemy import CheckConstraint, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import mapped_column
from sqlalchemy.types import TypeDecorator

from webapp.domain import Conflict, Forbidden

PILL_KINDS = ("ok", "wait", "bad", "off")


class State(StrEnum):
    """A stored state: the value is what the database holds; ``label`` and ``kind`` are shown."""

    label: str
    kind: str

    def __new__(cls, value: str, label: str = "", kind: str = "off") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        if kind not in PILL_KINDS:
            raise ValueError(f"{cls.__name__}.{value}: unknown pill kind {kind!r}")
        member.kind = kind
        return member

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every stored value, in declaration order."""
        return tuple(m.value for m in cls)

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Stored value → Chinese label."""
        return {m.value: m.label for m in cls}


class StateType(TypeDecorator):
    """A VARCHAR that loads as the enum member (so templates can read ``.label``/``.kind``)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[State], length: int = 20):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> State | None:
        if value is None:
            return None
        return self.enum(value)


def status_column(enum: type[State], length: int = 20, **kwargs: Any) -> Any:
    """A mapped status column of the given enum type (stored as its string value)."""
    return mapped_column(StateType(enum, length), **kwargs)


def status_check(enum: type[State], column: str = "status", name: str = "status") -> CheckConstraint:
    """The CHECK constraint that the column holds one of the enum's values."""
    allowed = ",".join(f"'{v}'" for v in enum.values())
    return CheckConstraint(f"{column} in ({allowed})", name=name)


@dataclass(frozen=True)
class Transition:
    """One row of a transition table: from-state, event → to-state, who may, what is notified."""

    source: State
    event: str
    target: State
    who: frozenset[str] = field(default_factory=frozenset)
    notify: tuple[str, ...] = ()

    def __init__(self, source: State, event: str, target: State,
                 who: Iterable[str] = (), notify: Iterable[str] = ()):
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "event", event)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "who", frozenset(who))
        object.__setattr__(self, "notify", tuple(notify))


class Transitions:
    """A transition table; ``step`` answers the transition for (state, event, actor role)."""

    def __init__(self, enum: type[State], rows: Iterable[Transition],
                 refused: str = "当前状态不能进行此操作"):
        self.enum = enum
        self.refused = refused
        self._rows: dict[tuple[str, str], Transition] = {}
        for row in rows:
            key = (row.source.value, row.event)
            if key in self._rows:
                raise ValueError(f"{enum.__name__}: two transitions for {key}")
            self._rows[key] = row

    def __iter__(self):
        return iter(self._rows.values())

    def allowed(self, state: str, event: str, role: str | None = None) -> bool:
        """Whether the event may happen in this state (and, when given, by this role)."""
        row = self._rows.get((str(state), event))
        return row is not None and (role is None or not row.who or role in row.who)

    def step(self, state: str, event: str, role: str | None = None,
             message: str | None = None) -> Transition:
        """The transition, or a Conflict (wrong state) / Forbidden (wrong role) with a message."""
        row = self._rows.get((str(state), event))
        if row is None:
            raise Conflict(message or self.refused, code="wrong_state")
        if role is not None and row.who and role not in row.who:
            raise Forbidden(message or "您无权进行此操作", code="forbidden")
        return row

    def events_from(self, state: str) -> set[str]:
        """The events possible in a state (for showing the actions a page offers)."""
        return {event for (source, event) in self._rows if source == str(state)}
