"""The pool pings a connection only after it sat idle (webapp/dbpool.py), and a connection
that died while idle is replaced before a request sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from tests import factories
from webapp.dbpool import ping_idle_connections
from webapp.extensions import db

pytestmark = pytest.mark.postgres


@pytest.fixture
def pings(pg_app):
    """Every ping the app's engine sends from now on."""
    seen: list[int] = []
    dialect = db.engine.dialect
    original = dialect.do_ping

    def counting(dbapi_connection):
        seen.append(1)
        return original(dbapi_connection)

    dialect.do_ping = counting  # type: ignore[method-assign]
    yield seen
    del dialect.do_ping


@pytest.fixture
def logged_in(pg_app):
    client = pg_app.test_client()
    user = factories.user()
    db.session.commit()
    client.post("/auth/login", data={"phone": user.phone, "password": "Passw0rd!"})
    assert client.get("/auth/me").status_code == 200
    db.session.remove()
    return client


def _get(client, path="/auth/me"):
    """A request that checks a connection out of the pool (the fixtures' app context would
    otherwise keep one ORM session, and its connection, across requests)."""
    db.session.remove()
    return client.get(path)


def test_busy_connections_are_not_pinged_idle_ones_are(logged_in, pings):
    checkouts: list[int] = []
    event.listen(db.engine, "checkout", lambda *_: checkouts.append(1))
    for _ in range(5):
        assert _get(logged_in).status_code == 200
    assert len(checkouts) >= 5
    assert pings == []  # handed back moments ago (threshold 10 s): no SELECT 1 round trip
    ping_idle_connections(db.engine, 0.0)  # now every connection counts as idle
    assert _get(logged_in).status_code == 200
    assert pings, "a connection idle past the threshold must be pinged before use"


def test_connection_killed_while_idle_is_replaced_before_use(pg_app, logged_in, pings):
    """The server ends the pooled connections (a restart, a proxy's idle timeout): the next
    request after the idle threshold is served by a new connection, not answered with a 500."""
    engine = db.engine
    ping_idle_connections(engine, 0.0)
    admin = create_engine(engine.url, poolclass=NullPool)
    with admin.begin() as conn:
        ended = conn.execute(text(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        )).scalar_one()
    admin.dispose()
    assert ended >= 1  # the app's pooled connection was there and is gone now
    connects: list[int] = []
    event.listen(engine, "connect", lambda *_: connects.append(1))
    assert _get(logged_in).status_code == 200
    assert pings and connects, "the dead connection is found by the ping and replaced"
