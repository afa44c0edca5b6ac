"""The one clock of the app: naive UTC datetimes for storage, China dates for rules.

Tests freeze or shift it (``clock.freeze(...)``) instead of patching datetime everywhere.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
_frozen: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """Current time as a naive UTC datetime (what the database stores)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC).replace(tzinfo=None) + _offset


def today() -> date:
    """Today's date in China, the date every age and month rule is computed on."""
    return to_china(now()).date()


def to_china(moment: datetime) -> datetime:
    """A stored naive-UTC datetime as an aware Asia/Shanghai datetime."""
    return moment.replace(tzinfo=UTC).astimezone(CHINA)


def china_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored naive-UTC moment written in China time ('' for None)."""
    if moment is None:
        return ""
    return to_china(moment).strftime(fmt)


def china_midnight_utc(day: date) -> datetime:
    """The naive-UTC instant at which the given China calendar day begins."""
    local = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    return local.astimezone(UTC).replace(tzinfo=None)


def freeze(moment: datetime | None) -> None:
    """Freeze the clock at a naive-UTC moment (None unfreezes)."""
    global _frozen
    _frozen = moment


def shift(delta: timedelta) -> None:
    """Move the running clock by delta (cumulative); used by tests and the live test server."""
    global _offset
    _offset += delta


def reset() -> None:
    """Back to the real clock."""
    global _frozen, _offset
    _frozen = None
    _offset = timedelta(0)


@contextmanager
def frozen_at(moment: datetime):
    """Context manager freezing the clock at a naive-UTC moment."""
    previous = _frozen
    freeze(moment)
    try:
        yield
    finally:
        freeze(previous)
