"""Review deadlines in working days (Saturdays and Sundays skipped) and overdue marking on a
frozen clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.test_codes import login
from tests.test_review import jiangsu_family, submit
from webapp import clock
from webapp.kinship.services import add_working_days
from webapp.review import services as review

FRI, SAT, SUN = date(2026, 1, 9), date(2026, 1, 10), date(2026, 1, 11)
MON, TUE, WED, THU = date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14), date(2026, 1, 15)


def china_morning(day: date, hour: int = 10) -> datetime:
    """hour:00 China time on the day, as the naive UTC the clock keeps."""
    return clock.china_midnight_utc(day) + timedelta(hours=hour)


@pytest.mark.parametrize("start,n,expected", [
    (FRI, 3, WED),  # Fri + 3 → Mon, Tue, Wed
    (FRI, 1, MON),
    (SAT, 3, WED),
    (SUN, 3, WED),
    (MON, 3, THU),
    (WED, 3, date(2026, 1, 19)),  # Thu, Fri, (weekend), Mon
    (THU, 5, date(2026, 1, 22)),
    (FRI, 0, FRI),
    (date(2026, 1, 30), 3, date(2026, 2, 4)),  # across a month end
])
def test_add_working_days_skips_weekends(start, n, expected):
    assert add_working_days(start, n) == expected
    assert add_working_days(start, n).weekday() < 5 or n == 0


@pytest.mark.parametrize("start,end,expected", [
    (FRI, WED, 3),
    (FRI, SAT, 0),
    (FRI, SUN, 0),
    (FRI, MON, 1),
    (SAT, MON, 1),
    (FRI, FRI, 0),
    (WED, FRI, -3),
    (THU, WED, -1),
    (date(2026, 1, 1), date(2026, 12, 31), 260),
])
def test_working_days_between(start, end, expected):
    assert review.working_days_between(start, end) == expected


def test_the_two_helpers_agree():
    day = date(2025, 12, 1)
    for offset in range(60):
        start = date.fromordinal(day.toordinal() + offset)
        for n in range(0, 12):
            assert review.working_days_between(start, add_working_days(start, n)) == n


def test_waiting_counts_working_days_only(app, factory):
    clock.freeze(china_morning(FRI))
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    assert binding.review_due == WED
    expectations = [
        (FRI, 0, 3, False), (SAT, 0, 3, False), (SUN, 0, 3, False), (MON, 1, 2, False),
        (TUE, 2, 1, False), (WED, 3, 0, False), (THU, 4, -1, True),
        (date(2026, 1, 17), 5, -2, True),  # Saturday after: still 2 working days late
        (date(2026, 1, 19), 6, -3, True),
    ]
    for today, waited, left, overdue in expectations:
        w = review.waiting(binding, today)
        assert (w.waited, w.left, w.overdue) == (waited, left, overdue), today
        assert w.limit == 3 and w.due == WED
    assert review.waiting(binding, THU).label == "已超期 1 个工作日"
    assert review.waiting(binding, MON).label == "已等待 1/3 个工作日"


def test_due_date_without_review_due_counts_from_creation(app, factory):
    clock.freeze(china_morning(FRI))
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    binding.review_due = None
    assert review.due_date(binding) == WED


def test_queue_marks_overdue_on_a_frozen_clock(app, client, factory):
    reviewer = factory.staff(role="reviewer")
    clock.freeze(china_morning(FRI))
    early_user, early_child = jiangsu_family(factory, "周芳", "周小一")
    early = submit(early_user.person, early_child)  # Fri → due Wed
    clock.freeze(china_morning(TUE))
    late_user, late_child = jiangsu_family(factory, "吴刚", "吴小二")
    late = submit(late_user.person, late_child)  # Tue → due Fri
    assert (early.review_due, late.review_due) == (WED, date(2026, 1, 16))
    login(client, reviewer)

    clock.freeze(china_morning(WED, 15))
    page = client.get("/review/").get_data(as_text=True)
    assert "app-status_bad" not in page and "rv-row_overdue" not in page
    assert "已等待 3/3 个工作日（今日到期）" in page and "已等待 1/3 个工作日" in page

    clock.freeze(china_morning(THU))
    page = client.get("/review/").get_data(as_text=True)
    assert page.count("app-status_bad") == 1 and page.count("rv-row_overdue") == 1
    assert "已超期 1 个工作日" in page
    assert page.index("周*一") < page.index("吴*二")  # oldest first
    row = page[page.index("rv-row_overdue"):]
    assert row.index("周*一") < row.index("</tr>")

    detail = client.get(f"/review/{early.public_id}").get_data(as_text=True)
    assert "app-status_bad" in detail and "2026-01-14" in detail

    clock.freeze(china_morning(date(2026, 1, 19)))  # next Monday: both late
    page = client.get("/review/").get_data(as_text=True)
    assert page.count("rv-row_overdue") == 2
    assert "已超期 3 个工作日" in page and "已超期 1 个工作日" in page


def test_the_deadline_comes_from_the_policy(app, factory, monkeypatch):
    from dataclasses import replace

    from webapp import policy

    table = policy.default_table()
    jiangsu = table.profiles["320000"]
    slow = replace(jiangsu, kinship=replace(jiangsu.kinship, review_working_days=5))
    monkeypatch.setattr(policy, "policy_for", lambda code: slow)
    monkeypatch.setattr("webapp.kinship.services.policy_for", lambda code: slow)
    monkeypatch.setattr("webapp.review.services.policy_for", lambda code: slow)
    monkeypatch.setattr("webapp.review.rules.policy_for", lambda code: slow)
    clock.freeze(china_morning(FRI))
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    assert binding.review_due == date(2026, 1, 16)  # Fri + 5 working days → next Fri
    assert review.waiting(binding, date(2026, 1, 16)).label == "已等待 5/5 个工作日"
