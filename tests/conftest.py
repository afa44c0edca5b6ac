"""Shared fixtures: the app on SQLite (and PostgreSQL when TEST_DATABASE_URL is set), clients,
a logged-in user, factories, and a frozen clock."""

from __future__ import annotations

import os

import pytest
from flask import g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from tests import pg_database
from webapp import clock, create_app, readonly
from webapp.extensions import db, limiter

# PostgreSQL: each run works in databases of its own on the TEST_DATABASE_URL server, created
# per process and dropped by the controller at the end; the named database is never touched.
NAMED_PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_URL = pg_database.run_database_url(NAMED_PG_URL)


@pytest.fixture(scope="session", autouse=True)
def _run_database():
    """Create this process's PostgreSQL run database before its first test."""
    if PG_URL:
        pg_database.create_database(NAMED_PG_URL, PG_URL)


def pytest_sessionfinish(session):
    """The controller (or a plain run) drops every database this run created."""
    if NAMED_PG_URL and not hasattr(session.config, "workerinput"):
        pg_database.drop_run_databases(NAMED_PG_URL, os.environ[pg_database.RUN_ENV])


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


class FreshUserClient(FlaskClient):
    """Test client whose every request starts with an empty ``g``, as in production.

    The fixtures keep one app context pushed for the whole test (so tests can call services
    and share its session with the requests). A request reuses that context, so without this
    whatever one request (or the test) cached on ``g`` — Flask-Login's user, the unread count —
    would leak into the next; the test's own ``g`` is put back after the request.
    """

    def open(self, *args, **kwargs):
        if not has_app_context():
            return super().open(*args, **kwargs)
        state = g._get_current_object().__dict__
        saved = dict(state)
        state.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            state.clear()
            state.update(saved)


def make_app(database_url: str, tmp_path, **overrides):
    """A testing app bound to the given database, with uploads under tmp_path."""
    app = create_app(
        {
            "ENV_NAME": "testing",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            **overrides,
        }
    )
    app.test_client_class = FreshUserClient
    with app.app_context():
        db.create_all()
    return app


def wipe(app) -> None:
    """Empty every table (fast on both backends) and drop the pooled connections."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            with db.engine.begin() as conn:
                for t in tables:
                    conn.execute(text(f'DELETE FROM "{t}"'))
        db.engine.dispose()
        readonly.dispose(app)  # the lane's autocommit pool (PostgreSQL), when one was made


def _in_context(application):
    """Yield the app with its context pushed (fresh limits); afterwards empty its tables."""
    limiter.reset()
    ctx = application.app_context()
    ctx.push()
    yield application
    ctx.pop()
    wipe(application)


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path):
    """The app on each configured backend, with an app context pushed for service calls."""
    url = PG_URL if request.param == "postgresql" else f"sqlite:///{tmp_path / 'test.sqlite'}"
    yield from _in_context(make_app(url, tmp_path))


@pytest.fixture
def pg_app(tmp_path):
    """The app on PostgreSQL only, for concurrency tests (skipped without TEST_DATABASE_URL)."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
    yield from _in_context(make_app(PG_URL, tmp_path))


@pytest.fixture
def csrf_app(tmp_path):
    """An app with CSRF protection switched on, as in production (SQLite)."""
    yield from _in_context(make_app(f"sqlite:///{tmp_path / 'csrf.sqlite'}", tmp_path,
                                    WTF_CSRF_ENABLED=True))


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of the app."""
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def real_clock():
    """Every test starts and ends on the real clock."""
    clock.reset()
    yield
    clock.reset()


class AuthActions:
    """Log a test client in and out through the real login form."""

    def __init__(self, client):
        self._client = client

    def login(self, phone: str, password: str = "Passw0rd!"):
        """Post the login form (a refusal: the page its 303 leads to, as a browser shows it)."""
        from tests.helpers import refused_page

        response = self._client.post("/auth/login", data={"phone": phone, "password": password})
        return refused_page(self._client, response)

    def logout(self):
        """Post the logout form."""
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    """Login helper bound to the client."""
    return AuthActions(client)


@pytest.fixture
def factory(app):
    """Factories for registry people, users, pharmacies (see tests/factories.py)."""
    from tests import factories

    return factories
