"""List pages load their rows' people and pharmacies in batches, not one query per row.

Each test renders a page with a few rows and again with more rows of different people: the
number of SQL statements must not grow with the rows (an N+1 would add one per row).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from tests.test_codes import bind, login
from tests.test_records import add_settlement
from webapp import clock
from webapp.extensions import db

NAMES = "赵钱孙李周吴郑王冯陈"


@contextmanager
def counting():
    """Count the SQL statements run inside the block (``box[0]``)."""
    box = [0, []]

    def count(_conn, _cursor, statement, *_args):
        box[0] += 1
        box[1].append(statement)

    engines = app_engines()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield box
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def app_engines() -> list:
    """The app's engine, and on PostgreSQL the token poll lane's always-autocommit one
    (webapp/readonly.py ``read_connection``)."""
    from flask import current_app

    from webapp.readonly import _autocommit_engine

    if db.engine.dialect.name == "sqlite":
        return [db.engine]
    return [db.engine, _autocommit_engine(current_app._get_current_object())]


def statements(client, path: str) -> int:
    """SQL statements of one GET (everything loaded before is expired, as in a new request)."""
    db.session.expire_all()
    with counting() as box:
        response = client.get(path)
    assert response.status_code == 200, path
    return box[0]


def people(factory, n: int, start: int, **kw):
    return [factory.person(name=NAMES[(start + i) % 10] + "小明", age=8, **kw) for i in range(n)]


def test_review_queue(app, client, factory):
    reviewer = factory.staff(role="reviewer")
    login(client, reviewer)

    def add(n, start):
        for i in range(n):
            holder = factory.person(name=NAMES[(start + i) % 10] + "丽", age=34, region="320102")
            child = factory.person(name=NAMES[(start + i) % 10] + "宝", age=5, region="320102")
            bind(holder, child, "child", status="pending_review")

    add(2, 0)
    few = statements(client, "/review/")
    add(5, 2)
    assert statements(client, "/review/") == few


def test_records_with_many_pharmacies(app, client, factory):
    user = factory.user(name="李红", age=38, male=False)
    login(client, user)
    now = clock.now()

    def add(n, start):
        for i in range(n):
            shop = factory.pharmacy(name=f"第{start + i}大药房")
            add_settlement(user.person, shop, 1000, now - timedelta(minutes=start + i))

    add(2, 0)
    few = statements(client, "/records/")
    add(6, 2)
    assert statements(client, "/records/") == few


def test_pharmacy_today_with_many_patients(app, client, factory):
    staff = factory.staff(role="pharmacy")
    login(client, staff)
    now = clock.now()

    def add(n, start):
        for i, patient in enumerate(people(factory, n, start)):
            add_settlement(patient, staff.pharmacy, 500, now - timedelta(minutes=start + i))

    add(2, 0)
    # The session's first page also checks the consents once and touches the session row.
    statements(client, "/pharmacy/today")
    few = statements(client, "/pharmacy/today")
    add(6, 2)
    assert statements(client, "/pharmacy/today") == few


def test_family_page_and_code_picker(app, client, factory):
    user = factory.user(name="李红", age=38, male=False)
    login(client, user)
    for child in people(factory, 1, 0):
        bind(user.person, child, "child")
    few = statements(client, "/family/"), statements(client, "/code/")
    for child in people(factory, 3, 1):
        bind(user.person, child, "child")
    assert (statements(client, "/family/"), statements(client, "/code/")) == few


def test_aid_members_and_spending(app, client, factory):
    from tests.test_aid_payments import pay, shop_of
    from tests.test_aid_rules import accept, add, make_owner, open_group
    from tests.test_codes import issue

    owner = make_owner(factory, balance_fen=100000)
    open_group(owner)
    login(client, owner)

    def add_members(n, start):
        for i in range(n):
            member = factory.user(name=NAMES[(start + i) % 10] + "明", age=20, balance_fen=0)
            accept(add(owner.person, member.person, "child").member)
            pay(issue(member).code, shop_of(factory, name=f"第{start + i}大药房"), amount_fen=300)

    add_members(1, 0)
    few = statements(client, "/aid/"), statements(client, "/aid/spending")
    add_members(3, 1)
    assert (statements(client, "/aid/"), statements(client, "/aid/spending")) == few


def test_unread_count_is_asked_once_per_page(app, client, factory):
    """我的 shows the unread count in its list and on the tab bar: one COUNT for both."""
    from webapp.messages import services as messages

    user = factory.user()
    messages.send(user.person, "测试消息")
    db.session.commit()
    login(client, user)
    db.session.expire_all()
    with counting() as box:
        page = client.get("/auth/me").get_data(as_text=True)
    assert page.count("1条未读消息") == 2
    assert sum("FROM message" in s for s in box[1]) == 1
