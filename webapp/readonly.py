"""Read-only requests: the hottest reads run without a transaction.

On PostgreSQL every transaction costs two round trips of its own (psycopg sends ``BEGIN``
before the first statement, and the pool's reset sends ``ROLLBACK``), so a request that only
reads pays four round trips for two SELECTs. A view marked ``@read_only`` runs its whole
request — the session row and user (webapp/sessions.py) and the view's own statements — on an
autocommit connection: each statement is one round trip and sees what is committed when it
runs (what READ COMMITTED gives a transaction's statements too). Such a view must not write:
a statement that changes data is refused (``ReadOnlyViolation``) before it reaches the
database, so a later change to the view cannot lose atomicity unnoticed (the session table's
own writes, webapp/sessions.py, run in transactions of their own and are allowed).

Only the 医保码 page's payment-status poll is marked (every shown code asks every few
seconds). On SQLite nothing changes (its driver begins a transaction only before a write).

A view marked ``@one_write`` runs the same way but may write once: its one INSERT is atomic
by itself, so it needs no transaction either (``BEGIN`` and ``COMMIT`` are two of the code
refresh's four round trips). A second write in the same request is refused like any write of
a read-only view, unless the view first asks for a transaction (``transaction_from_here``):
then the rest of the request runs in an ordinary one (a relative's code and its audit row).
The 医保码 page and its refresh are marked: they issue a code (one INSERT) every minute for
every open code page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, g, has_app_context, request
from sqlalchemy import Connection, Engine, create_engine, event

from webapp.extensions import db

MARK = "_read_only_view"
ONE_WRITE = "_one_write_view"
# g.read_only: the request's statements run on autocommit, or (SQLite) only the guard is on.
AUTOCOMMIT, GUARDED = "autocommit", "guarded"
_DML = ("insert", "update", "delete", "merge", "create", "drop", "alter", "truncate")


class ReadOnlyViolation(RuntimeError):
    """A read-only view tried to change data."""


def read_only(view: Callable) -> Callable:
    """Mark a view as read-only (see the module docstring); put it outermost of decorators
    that keep ``functools.wraps`` (the mark is looked up on the registered function)."""
    setattr(view, MARK, True)
    return view


def one_write(view: Callable) -> Callable:
    """Mark a view that writes at most one statement outside a transaction (see the module
    docstring); outermost, like ``read_only``."""
    setattr(view, ONE_WRITE, True)
    return view


def view_mark(app: Flask, name: str) -> Any:
    """The mark ``name`` a decorator set on the view this request matched (None: unmatched or
    unmarked); read before the view runs, by this module and by webapp/sessions.py."""
    rule = request.url_rule
    view = app.view_functions.get(rule.endpoint) if rule is not None else None
    return getattr(view, name, None)


def begin(app: Flask) -> bool:
    """Put this request's ORM session on an autocommit connection when its view is read-only
    and nothing has run on the session yet; whether the request is read-only now. Called
    from the session interface (before the session row is read) and as the first
    before-request hook (requests without a session cookie)."""
    if "read_only" in g:
        return bool(g.read_only)
    writes_once = bool(view_mark(app, ONE_WRITE))
    if not (writes_once or view_mark(app, MARK)) or db.session().in_transaction():
        return False
    g.read_only = AUTOCOMMIT if app.extensions.get("read_only_autocommit") else GUARDED
    if writes_once:
        g.writes_left = 1
    if g.read_only == AUTOCOMMIT:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def transaction_from_here() -> None:
    """The rest of this request runs in an ordinary transaction (a ``@one_write`` view about
    to write more than once): what ran so far is left as it is (nothing of it is reloaded),
    the next statement begins the transaction on a connection of the usual isolation."""
    if not g.get("writes_left"):
        return  # not in a @one_write view's autocommit (or already left it): nothing to do
    mode = g.pop("read_only", None)
    g.pop("writes_left", None)
    g.read_only = None  # begun and left: begin() must not enter it again
    if mode == AUTOCOMMIT:
        session = db.session()
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()  # nothing to commit on autocommit: hands the connection back
        finally:
            session.expire_on_commit = expire


def end(_exc: BaseException | None = None) -> None:
    """Leave read-only: the autocommit connection goes back to its pool (teardown)."""
    g.pop("writes_left", None)
    connection = g.pop("read_only_connection", None)
    if g.pop("read_only", None) == AUTOCOMMIT:
        if connection is not None:
            connection.close()
        else:
            db.session.rollback()  # hands the connection back (its isolation level is reset)


def read_connection(app: Flask) -> Connection:
    """A connection for the rest of this app context's statements, read-only (writes refused):
    on PostgreSQL from an engine whose connections are always in autocommit (a small pool of
    its own, so no isolation level is set and reset on every checkout, which cost a quarter of
    a token poll); on SQLite the ORM session's. For the token poll's WSGI lane
    (webapp/codes/lane.py); ``end()`` hands it back."""
    if not app.extensions.get("read_only_autocommit"):
        g.read_only = GUARDED
        return db.session.connection()
    g.read_only = AUTOCOMMIT
    connection = g.read_only_connection = _autocommit_engine(app).connect()
    return connection


def _autocommit_engine(app: Flask) -> Engine:
    engine = app.extensions.get("read_only_engine")
    if engine is None:
        from webapp.dbpool import ping_idle_connections

        options = {"pool_size": 2, "max_overflow": 8,
                   **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
        engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT", **options)
        event.listen(engine, "before_cursor_execute", _refuse_writes)
        ping_idle_connections(engine, float(app.config["DB_PING_IDLE_SECONDS"]))
        app.extensions["read_only_engine"] = engine
    return engine


def dispose(app: Flask) -> None:
    """Close the autocommit engine's pooled connections (tests, after a fork)."""
    engine = app.extensions.pop("read_only_engine", None)
    if engine is not None:
        engine.dispose()


def _refuse_writes(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if has_app_context() and g.get("read_only") \
            and statement.lstrip()[:8].lower().startswith(_DML) \
            and not conn.get_execution_options().get("session_store"):
        if g.get("writes_left"):
            g.writes_left -= 1
            return
        raise ReadOnlyViolation(f"a read-only view attempted: {statement[:60]}")


def init_read_only(app: Flask) -> None:
    """Begin read-only requests early (first before-request hook), end them at teardown,
    refuse their writes."""

    def begin_read_only() -> None:
        begin(app)

    app.before_request_funcs.setdefault(None, []).insert(0, begin_read_only)
    app.teardown_request(end)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", _refuse_writes)
        # SQLite's driver begins a transaction only before a write: nothing to save there.
        app.extensions["read_only_autocommit"] = db.engine.dialect.name != "sqlite"
