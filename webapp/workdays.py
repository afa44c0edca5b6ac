"""Working days in mainland China: public holidays and make-up working days (调休) included.

The State Council publishes each year's holiday arrangement (国务院办公厅关于X年部分节假日安排
的通知) late in the year before. The kept library ``chinesecalendar`` carries those
arrangements; it knows the years it was released for (``known_years()``).

For a day in a year the library does not know yet, the day is a working day when it is Monday
to Friday, and a warning is logged once per year so an operator updates the library (the next
arrangement is usually out by December). Deadlines that reach such a year are therefore
estimates; ``calendar_known(day)`` tells the pages so they can say so.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from functools import cache

import chinese_calendar

log = logging.getLogger(__name__)

_warned: set[int] = set()


@cache
def known_years() -> range:
    """The years whose holiday arrangement the installed library carries."""
    years = sorted({d.year for d in chinese_calendar.holidays} | {
        d.year for d in chinese_calendar.workdays if d.weekday() >= 5})
    return range(years[0], years[-1] + 1)


def calendar_known(day: date) -> bool:
    """True when the day's year has an official holiday arrangement in the library."""
    return day.year in known_years()


def _fallback(day: date) -> bool:
    """Monday to Friday, with a warning once per unknown year."""
    if day.year not in _warned:
        _warned.add(day.year)
        log.warning("no holiday arrangement for %s in chinesecalendar %s: counting Monday to "
                    "Friday as working days; update the library", day.year,
                    getattr(chinese_calendar, "__version__", "?"))
    return day.weekday() < 5


def is_working_day(day: date) -> bool:
    """A working day: not a public holiday, not a weekend unless it is a make-up day (调休)."""
    if not calendar_known(day):
        return _fallback(day)
    return bool(chinese_calendar.is_workday(day))


def add_working_days(day: date, n: int) -> date:
    """The date n working days after ``day`` (``day`` itself when n <= 0)."""
    current = day
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days d with start < d <= end (negative when end is before start).

    The counterpart of ``add_working_days``: for n >= 0,
    ``working_days_between(day, add_working_days(day, n)) == n``.
    """
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for offset in range(1, (end - start).days + 1)
               if is_working_day(start + timedelta(days=offset)))
