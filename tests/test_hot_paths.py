"""How the hottest paths reach the database (issue 13): the status poll runs without a
transaction and looks codes up by their unique hash, never along the issuer's index; a
read-only view cannot write; the unread badge stops counting at 99+."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event, insert, select, text

from tests import factories
from tests.conftest import make_app
from tests.test_codes import bind, issue, login
from tests.test_query_counts import app_engines
from webapp.codes import services as codes
from webapp.extensions import db, write_through
from webapp.kinship.models import KinshipBinding
from webapp.messages import services as messages
from webapp.messages.queries import UNREAD_COUNT_CAP, unread_count
from webapp.models import InsuranceCode
from webapp.readonly import ReadOnlyViolation, one_write, read_only, transaction_from_here


def _statements_during(app: Flask, call):
    """(statement, parameters, autocommit?) of every statement run by ``call()``."""
    seen: list[tuple[str, object, bool]] = []

    def record(conn, _cursor, statement, parameters, *_args):
        dbapi = conn.connection.dbapi_connection
        autocommit = bool(getattr(dbapi, "autocommit", False)) if conn.dialect.name != "sqlite" \
            else dbapi.isolation_level is None
        seen.append((statement, parameters, autocommit))

    engines = _engines(app)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        response = call()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
    return response, seen


def _engines(app: Flask) -> list:
    """The app's engine(s): with the lane's on PostgreSQL (tests/test_query_counts.py)."""
    with app.app_context():
        return app_engines()


@pytest.fixture
def shown(app, client, factory):
    user = factory.user(name="李红", age=38, male=False)
    login(client, user)
    page = client.get("/code/me")
    assert page.status_code == 200
    return user, [issue(user).code for _ in range(2)]


@pytest.mark.postgres
def test_status_poll_runs_on_autocommit_refresh_in_a_transaction(pg_app):
    """On PostgreSQL the poll's statements (session row, shown codes) run without BEGIN /
    ROLLBACK, and so do the code page's and the refresh's (their one write, the code's INSERT,
    is atomic by itself); a relative's code, which also writes its audit row, is issued in a
    transaction."""
    client = pg_app.test_client()
    user = factories.user(name="李红", age=38, male=False)
    child = factories.person(name="王小明", age=8)
    relative = bind(user.person, child).public_id
    login(client, user)
    codes_shown = [issue(user).code]
    db.session.remove()  # a new request checks a connection out, as in production
    poll, seen = _statements_during(
        pg_app, lambda: client.post("/code/me/status", data={"c": codes_shown}))
    assert poll.status_code == 200 and poll.get_json()["state"] == "valid"
    assert seen and all(autocommit for _, _, autocommit in seen), seen
    for path in ("/code/me/refresh", "/code/me"):
        db.session.remove()
        answer, seen = _statements_during(pg_app, lambda path=path: client.open(
            path, method="POST" if path.endswith("refresh") else "GET"))
        assert answer.status_code == 200
        # the session store writes on a connection and in a transaction of its own
        seen = [row for row in seen if "web_session SET" not in row[0]]
        writes = [s for s, _, _ in seen if s.lstrip().upper().startswith("INSERT")]
        assert len(writes) == 1 and "insurance_code" in writes[0], seen
        assert all(autocommit for _, _, autocommit in seen), (path, seen)
    db.session.remove()
    refresh, seen = _statements_during(
        pg_app, lambda: client.post(f"/code/{relative}/refresh"))
    assert refresh.status_code == 200
    writes = [(s, autocommit) for s, _, autocommit in seen
              if s.lstrip().upper().startswith("INSERT")]
    assert [("insurance_code" in s, "audit" in s) for s, _ in writes] == [
        (True, False), (False, True)], writes
    assert not any(autocommit for _, autocommit in writes), writes


def _probe_app(tmp_path, writes: int, transaction: bool = False) -> Flask:
    """An app with a @one_write view that writes ``writes`` codes (after asking for a
    transaction when ``transaction``)."""
    app = make_app(f"sqlite:///{tmp_path / 'ow.sqlite'}", tmp_path)

    @app.post("/_ow_probe")
    @one_write
    def ow_probe():
        if transaction:
            transaction_from_here()
        for i in range(writes):
            db.session.execute(insert(InsuranceCode).values(
                code_hash=f"{i}" * 64, person_id=1, created_at=codes.clock.now(),
                expires_at=codes.clock.now()))
        db.session.commit()
        return "written"

    return app


@pytest.mark.parametrize("writes, transaction, refused", [
    (1, False, False), (2, False, True), (2, True, False)])
def test_a_one_write_view_writes_once_unless_it_asks_for_a_transaction(
        tmp_path, writes, transaction, refused):
    """A @one_write view may send one write outside a transaction; a second is refused before
    it reaches the database (the first is then all there is) unless the view asked for a
    transaction first."""
    app = _probe_app(tmp_path, writes, transaction)
    with app.app_context():
        if refused:
            with pytest.raises(ReadOnlyViolation):
                app.test_client().post("/_ow_probe")
            db.session.rollback()  # SQLite: the first write was in the request's transaction
        else:
            assert app.test_client().post("/_ow_probe").get_data(True) == "written"
        stored = db.session.scalar(text("select count(*) from insurance_code"))
        assert stored == (0 if refused else writes)


def test_a_read_only_view_cannot_write(tmp_path):
    """A statement that changes data, run by a view marked @read_only, is refused before it
    reaches the database (and nothing is written)."""
    app = make_app(f"sqlite:///{tmp_path / 'ro.sqlite'}", tmp_path)

    @app.post("/_ro_probe")
    @read_only
    def ro_probe():
        db.session.execute(insert(InsuranceCode).values(
            code_hash="x" * 64, person_id=1, created_at=codes.clock.now(),
            expires_at=codes.clock.now()))
        return "written"

    with app.app_context():
        with pytest.raises(ReadOnlyViolation):
            app.test_client().post("/_ro_probe")
        assert db.session.scalar(text("select count(*) from insurance_code")) == 0


def _plan(statement: str, parameters) -> str:
    """The database's plan of a captured statement, as one lowercase string."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return " | ".join(str(r[-1]) for r in rows).lower()
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
    return " | ".join(r[0] for r in rows).lower()


def test_status_poll_looks_codes_up_by_their_hash_not_the_issuer_index(app, client, shown):
    """The bench found the poll walking ix_insurance_code_issuer_subject: every code the user
    ever showed (17 748 after a minute). The lookup is by the unique hash only."""
    user, codes_shown = shown
    response, seen = _statements_during(
        app, lambda: client.post("/code/me/status", data={"c": codes_shown}))
    assert response.status_code == 200
    lookup = [(s, p) for s, p, _ in seen if "FROM insurance_code" in s]
    assert len(lookup) == 1, seen
    plan = _plan(*lookup[0])
    assert "issuer_subject" not in plan, plan
    assert "code_hash" in plan or "insurance_code_1" in plan, plan  # the unique index


def test_cancelled_since_goes_from_the_settlement_to_its_code_by_index(app, client, shown):
    """Watching announced payments: settlement by public id, then its code by the indexed
    settlement_id (it was a full scan of insurance_code)."""
    user, codes_shown = shown
    response, seen = _statements_during(app, lambda: client.post(
        "/code/me/status", data={"c": codes_shown, "w": ["S" * 20]}))
    assert response.status_code == 200
    watched = [(s, p) for s, p, _ in seen if "FROM settlement" in s]
    assert len(watched) == 1, seen
    plan = _plan(*watched[0])
    assert "scan insurance_code" not in plan and "seq scan on insurance_code" not in plan, plan
    assert "issuer_subject" not in plan, plan


def test_unread_badge_counts_up_to_its_cap_and_shows_99_plus(app, client, factory):
    user = factory.user()
    for i in range(UNREAD_COUNT_CAP + 20):
        messages.send(user.person, f"测试消息{i}")
    db.session.commit()
    assert unread_count(user.person.id) == UNREAD_COUNT_CAP
    login(client, user)
    page = client.get("/auth/me").get_data(as_text=True)
    assert page.count(">99+</span>") == 2  # 我的 list and the tab bar
    assert "超过99条未读消息" in page
    messages.send(user.person, "再来一条")
    db.session.commit()
    assert unread_count(user.person.id) == UNREAD_COUNT_CAP


def test_static_url_is_url_for_with_its_fingerprint_built_once(app):
    from flask import url_for

    from webapp.assets import static_url

    with app.test_request_context("/"):
        url = static_url("js/code.js")
        assert url == url_for("static", filename="js/code.js")
        assert "?v=" in url
        assert app.extensions["static_urls"][("", "js/code.js")] == url


def test_a_read_only_request_still_keeps_its_session_alive(app, client, shown):
    """The poll is read-only, yet the session row's idle expiry is pushed forward when due
    (the session table writes in a transaction of its own, which the guard allows)."""
    from datetime import timedelta

    from webapp.accounts.models import WebSession
    from webapp.sessions import TOUCH_EVERY

    user, codes_shown = shown
    row = db.session.scalars(db.select(WebSession).where(
        WebSession.user_key == user.public_id)).one()
    aged = row.expires_at - TOUCH_EVERY - timedelta(minutes=1)
    row.expires_at = aged
    db.session.commit()
    response = client.post("/code/me/status", data={"c": codes_shown})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(WebSession, row.id).expires_at > aged + TOUCH_EVERY


def test_code_page_runs_in_one_transaction(app, client, shown):
    """Session row, unread count and the code's INSERT share one transaction: the count read
    after the commit opened a second one (BEGIN and ROLLBACK: two round trips on PostgreSQL)."""
    begins: list[int] = []

    def began(_conn):
        begins.append(1)

    db.session.remove()  # as a new request: nothing open yet
    event.listen(db.engine, "begin", began)
    try:
        page = client.get("/code/me")
    finally:
        event.remove(db.engine, "begin", began)
    assert page.status_code == 200
    assert len(begins) == 1, begins


def test_write_through_updates_the_row_and_keeps_the_loaded_object_in_step(app, factory):
    """One UPDATE by id, nothing left for the unit of work, the object reads the new value, and
    another session sees it after the commit; a row with a version counter is refused."""
    user = factory.user(name="李红", age=38, male=False)
    row = db.session.scalar(select(InsuranceCode).where(
        InsuranceCode.code_hash == codes.hash_code(issue(user).code)))
    sent = []
    listener = lambda *args: sent.append(args[2])  # noqa: E731 - before_cursor_execute
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        write_through(row, token_pharmacy_id=None, token_hash="a" * 64)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(sent) == 1 and sent[0].lstrip().upper().startswith("UPDATE INSURANCE_CODE"), sent
    assert row.token_hash == "a" * 64 and not db.session.dirty
    db.session.commit()
    with db.engine.connect() as other:
        assert other.execute(text("SELECT token_hash FROM insurance_code WHERE id = :i"),
                             {"i": row.id}).scalar() == "a" * 64
    binding = bind(user.person, factory.person(name="张小明", age=8))
    assert isinstance(binding, KinshipBinding)
    with pytest.raises(AssertionError, match="version counter"):
        write_through(binding, phone="13800000000")



def test_no_view_or_hook_is_async(app):
    """webapp.App calls views and hooks as they are (no async-to-sync wrapping): an async one
    would return an un-awaited coroutine, so there must be none."""
    import inspect

    hooks = [f for table in (app.before_request_funcs, app.after_request_funcs,
                             app.teardown_request_funcs) for funcs in table.values() for f in funcs]
    found = [f for f in [*app.view_functions.values(), *hooks, *app.teardown_appcontext_funcs]
             if inspect.iscoroutinefunction(getattr(f, "func", f))]
    assert not found, found
    assert len(app.view_functions) > 80 and len(hooks) > 10  # the real app, every blueprint


def test_the_limiters_app_wide_check_runs_only_when_it_has_limits_to_check(app, client,
                                                                          tmp_path):
    """Every limit is a decorator on its view, which checks it when it runs: the app-wide
    before-request check is dropped, and the decorated limits still hold (the login limit);
    an operator's default limit (RATELIMIT_DEFAULT) keeps the check, and it applies."""
    from webapp.extensions import limiter

    assert limiter._check_request_limit not in app.before_request_funcs[None]
    limit = app.config["RATELIMIT_REGISTER"].split()[0]
    answers = [client.post("/auth/register", data={}).status_code
               for _ in range(int(limit) + 1)]
    assert answers[-1] == 429 and 429 not in answers[:-1], answers

    try:
        limited = make_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path,
                           RATELIMIT_DEFAULT="2 per day")
        assert limiter._check_request_limit in limited.before_request_funcs[None]
        other = limited.test_client()
        assert [other.get("/auth/login").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        limiter.limit_manager.set_default_limits([])
        limiter.reset()
