"""The floor of the stack: what a hot path's round trips alone cost, with no app around them.

A bare Flask app (as bench/hello.py) whose one view makes the database statements and Redis
commands of one of the app's hot paths, and nothing else: no session, login, CSRF, forms,
templates, audit, rate-limit bookkeeping. Served by the same gunicorn settings as the app and
the hello-world, loaded by the same load generator, its requests/s against the hello-world's
says how far the chosen libraries alone let that path go on this machine: a target above the
floor cannot be met by any code on that stack.

    GET /floor/<statements>?tx=1&redis=N&driver=1

- ``statements`` SELECTs of one row by primary key (``bench_floor``, ten columns), each with its
  own parameter, read to the end. A real statement (an INSERT, a join) costs more, so the floor
  is optimistic.
- without ``driver``: through Flask-SQLAlchemy's request session (``db.session.execute`` of a
  Core statement built once, as the app's hot paths do), the session removed at the end of the
  request (its connection back to the pool); ``tx=1`` in a transaction committed at the end
  (verify, settle, cancel), else on an autocommit connection (the code page and its refresh:
  webapp/readonly.py);
- with ``driver=1``: the same statements on one raw DBAPI connection per worker (psycopg or
  sqlite3), ``tx=1`` between BEGIN and COMMIT: what leaving SQLAlchemy out would leave;
- ``redis=N``: N ``GET``s of one key (a rate-limit check is one ``EVALSHA``, a payment status
  one ``SET``) on one connection per worker.

``FLOOR_DB_URL`` names the database (bench/run.py passes the bench's own); ``prepare(url)``
makes the table before the workers start.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, create_engine, select

ROWS = 16
metadata = MetaData()
table = Table(
    "bench_floor", metadata,
    Column("id", Integer, primary_key=True),
    *(Column(f"t{i}", String(40), nullable=False) for i in range(5)),
    *(Column(f"n{i}", Integer, nullable=False) for i in range(4)),
)
by_id = select(table).where(table.c.id == bindparam("id"))


def prepare(url: str) -> None:
    """(Re)make ``bench_floor`` with its rows: before the workers start, once per run."""
    engine = create_engine(url)
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        conn.execute(table.insert(), [
            {"id": i, **{f"t{j}": f"text {i}-{j}" for j in range(5)},
             **{f"n{j}": i * j for j in range(4)}} for i in range(1, ROWS + 1)])
    engine.dispose()


def driver_url(url: str) -> str:
    """The plain DBAPI form of a SQLAlchemy URL (psycopg's conninfo, or a sqlite3 path)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ""
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class Driver:
    """One raw DBAPI connection per worker (made on first use, after the fork)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self.conn: Any = None
        self.sql = ("SELECT * FROM bench_floor WHERE id = ?" if self.sqlite
                    else "SELECT * FROM bench_floor WHERE id = %s")

    def connection(self) -> Any:
        if self.conn is None:
            if self.sqlite:
                import sqlite3

                self.conn = sqlite3.connect(driver_url(self.url), isolation_level=None,
                                            check_same_thread=False)
            else:
                import psycopg

                self.conn = psycopg.connect(driver_url(self.url), autocommit=True)
        return self.conn

    def run(self, statements: int, tx: bool) -> int:
        conn = self.connection()
        if tx:
            conn.execute("BEGIN")
        got = 0
        for i in range(statements):
            got += len(conn.execute(self.sql, (i % ROWS + 1,)).fetchall())
        if tx:
            conn.execute("COMMIT")
        return got


def create_app(url: str, redis_url: str | None) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db = SQLAlchemy(app)
    driver = Driver(url)
    redis_client = None
    if redis_url:
        import redis

        redis_client = redis.Redis.from_url(redis_url)

    @app.get("/")
    def hello() -> str:
        return "Hello, World!"

    @app.get("/floor/<int:statements>")
    def floor(statements: int) -> str:
        tx = request.args.get("tx") == "1"
        for _ in range(int(request.args.get("redis", "0"))):
            assert redis_client is not None, "redis=N needs FLOOR_REDIS_URL"
            redis_client.get("bench-floor")
        if request.args.get("driver") == "1":
            return str(driver.run(statements, tx))
        session = db.session
        if not tx and not driver.sqlite:  # as webapp/readonly.py (SQLite: no change there)
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        got = sum(len(session.execute(by_id, {"id": i % ROWS + 1}).all())
                  for i in range(statements))
        if tx:
            session.commit()
        return str(got)

    return app


if os.environ.get("FLOOR_DB_URL"):
    app = create_app(os.environ["FLOOR_DB_URL"], os.environ.get("FLOOR_REDIS_URL") or None)
