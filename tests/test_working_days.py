"""Review deadlines in working days (weekends and China's public holidays skipped, make-up
working days 调休 counted; Monday to Friday in a year the calendar does not know) and overdue
marking on a frozen clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.test_codes import login
from tests.test_review import jiangsu_family, submit
from webapp import clock, workdays
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
    (date(2026, 1, 1), date(2026, 12, 31), 248),  # 261 weekdays − 19 holidays + 6 调休
])
def test_working_days_between(start, end, expected):
    assert review.working_days_between(start, end) == expected


@pytest.mark.parametrize("day", [
    date(2025, 12, 1), date(2025, 9, 15), date(2026, 2, 1), date(2026, 9, 15),
    date(2026, 12, 10),  # into 2027, which the calendar does not know
])
def test_the_two_helpers_agree(day):
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


# --- China's holidays and make-up working days (real arrangements) -------------------------

@pytest.mark.parametrize("start,n,expected", [
    # National Day 2025 (with 中秋): 1–8 Oct off; Sun 28 Sep and Sat 11 Oct are working days.
    (date(2025, 9, 26), 1, date(2025, 9, 28)),  # Fri → the make-up Sunday
    (date(2025, 9, 28), 3, date(2025, 10, 9)),  # Mon 29, Tue 30 Sep; then Thu 9 Oct
    (date(2025, 9, 30), 1, date(2025, 10, 9)),  # the whole week off
    (date(2025, 10, 9), 2, date(2025, 10, 11)),  # Fri 10, Sat 11 (调休)
    (date(2025, 10, 9), 3, date(2025, 10, 13)),
    # National Day 2026: 1–7 Oct off; Sun 20 Sep and Sat 10 Oct are working days.
    (date(2026, 9, 18), 1, date(2026, 9, 20)),  # Fri → the make-up Sunday
    (date(2026, 9, 24), 1, date(2026, 9, 28)),  # Fri 25 Sep is 中秋
    (date(2026, 9, 30), 1, date(2026, 10, 8)),
    (date(2026, 9, 30), 3, date(2026, 10, 10)),  # Thu 8, Fri 9, Sat 10 (调休)
    # Spring Festival 2026: 15–23 Feb off; Sat 14 and Sat 28 Feb are working days.
    (date(2026, 2, 13), 1, date(2026, 2, 14)),
    (date(2026, 2, 13), 2, date(2026, 2, 24)),
    (date(2026, 2, 24), 4, date(2026, 2, 28)),  # Wed 25, Thu 26, Fri 27, Sat 28
    # New Year 2026: 1–3 Jan off, Sun 4 Jan a working day.
    (date(2025, 12, 31), 1, date(2026, 1, 4)),
])
def test_add_working_days_follows_the_holiday_arrangement(start, n, expected):
    assert add_working_days(start, n) == expected
    assert review.working_days_between(start, expected) == n


@pytest.mark.parametrize("day,working", [
    (date(2025, 10, 1), False), (date(2025, 10, 8), False),  # 国庆 (Wednesdays)
    (date(2025, 9, 28), True), (date(2025, 10, 11), True),  # 调休 Sunday and Saturday
    (date(2026, 10, 5), False), (date(2026, 10, 10), True), (date(2026, 9, 20), True),
    (date(2026, 2, 17), False), (date(2026, 2, 14), True), (date(2026, 2, 28), True),
    (date(2026, 2, 21), False),  # a Saturday inside 春节
    (date(2026, 3, 7), False), (date(2026, 3, 9), True),  # an ordinary weekend and Monday
])
def test_is_working_day_on_real_dates(day, working):
    assert workdays.calendar_known(day)
    assert workdays.is_working_day(day) is working


def test_a_year_the_calendar_does_not_know_counts_monday_to_friday(caplog):
    later = max(workdays.known_years()) + 1
    first = date(later, 1, 1)
    assert not workdays.calendar_known(first)
    workdays._warned.discard(later)
    with caplog.at_level("WARNING", logger="webapp.workdays"):
        days = [first + timedelta(days=i) for i in range(14)]
        assert [workdays.is_working_day(d) for d in days] == [d.weekday() < 5 for d in days]
    warnings = [r for r in caplog.records if str(later) in r.getMessage()]
    assert len(warnings) == 1  # once per year, not per day
    assert add_working_days(first, 5) == next(
        d for d in (first + timedelta(days=i) for i in range(1, 20))
        if review.working_days_between(first, d) == 5)


def test_a_deadline_in_an_unknown_year_is_marked_estimated(app, client, factory):
    last = max(workdays.known_years())
    reviewer = factory.staff(role="reviewer")
    clock.freeze(china_morning(date(last, 12, 30)))
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    assert binding.review_due.year == last + 1
    assert review.waiting(binding).estimated
    login(client, reviewer)
    page = client.get(f"/review/{binding.public_id}").get_data(as_text=True)
    assert f"{last + 1}年节假日安排尚未收录" in page
    queue = client.get("/review/").get_data(as_text=True)
    assert queue.count("（估算）") == 1
    clock.freeze(china_morning(date(last, 9, 1)))
    user2, child2 = jiangsu_family(factory, "周芳", "周小一")
    early = submit(user2.person, child2)
    assert not review.waiting(early).estimated
    page = client.get(f"/review/{early.public_id}").get_data(as_text=True)
    assert "节假日安排尚未收录" not in page


def test_a_binding_submitted_before_national_day_is_due_after_it(app, factory):
    clock.freeze(china_morning(date(2026, 9, 30)))  # Wednesday before the holiday
    user, child = jiangsu_family(factory)
    binding = submit(user.person, child)
    assert binding.review_due == date(2026, 10, 10)  # the make-up Saturday
    assert review.waiting(binding, date(2026, 10, 6)).label == "已等待 0/3 个工作日"
    assert review.waiting(binding, date(2026, 10, 9)).label == "已等待 2/3 个工作日"
    assert review.waiting(binding, date(2026, 10, 12)).label == "已超期 1 个工作日"
