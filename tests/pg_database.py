"""Per-run PostgreSQL databases for the suite: never touch the database TEST_DATABASE_URL names.

TEST_DATABASE_URL names a server (and a database on it used only to connect). Every pytest
run makes its own databases there — one per process (each xdist worker, or the single process),
named ``<db>_t<run id>_<worker>`` — and the controller drops them all when the run ends. The
run id is made once by the controller and inherited by its workers through RUN_ENV.
"""

from __future__ import annotations

import os
import secrets
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

RUN_ENV = "WEBAPP_TEST_PG_RUN"
WORKER_ENV = "PYTEST_XDIST_WORKER"
# Databases of a run killed before it could clean up are dropped by a later run after this.
STALE_AFTER_SECONDS = 12 * 60 * 60
MAX_NAME = 63  # PostgreSQL's identifier limit


def is_worker() -> bool:
    """True inside a pytest-xdist worker (the controller and a plain run are not)."""
    return bool(os.environ.get(WORKER_ENV))


def run_id() -> str:
    """This run's id: made by the controller (or a plain run), inherited by xdist workers."""
    if not is_worker() or not os.environ.get(RUN_ENV):
        os.environ[RUN_ENV] = f"{int(time.time()):x}{secrets.token_hex(3)}"
    return os.environ[RUN_ENV]


def run_prefix(named: URL, run: str) -> str:
    """The name prefix shared by every database of one run (the named database's name first)."""
    base = (named.database or "test")[: MAX_NAME - 30]
    return f"{base}_t{run}_"


def run_database_url(named_url: str) -> str:
    """The URL of this process's own database for this run ("" when no URL is configured)."""
    if not named_url:
        return ""
    named = make_url(named_url)
    name = run_prefix(named, run_id()) + (os.environ.get(WORKER_ENV) or "main")
    return named.set(database=name).render_as_string(hide_password=False)


def _admin(named_url: str):
    """An autocommit engine on the named database (used only to create and drop others)."""
    return create_engine(named_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_database(named_url: str, url: str) -> None:
    """Create this process's run database on the server when it does not exist yet."""
    name = make_url(url).database
    admin = _admin(named_url)
    try:
        with admin.connect() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if found.scalar() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _stale(name: str, prefix_base: str, now: float) -> bool:
    """True for a database of an older run (same named database) begun over 12 hours ago."""
    rest = name[len(prefix_base):]
    stamp = rest[:8]
    try:
        started = int(stamp, 16)
    except ValueError:
        return False
    return len(stamp) == 8 and now - started > STALE_AFTER_SECONDS


def drop_run_databases(named_url: str, run: str) -> list[str]:
    """Drop every database of this run (and of runs that died long ago); returns their names."""
    named = make_url(named_url)
    prefix = run_prefix(named, run)
    base = prefix[: -len(run) - 1]  # "<db>_t"
    admin = _admin(named_url)
    dropped: list[str] = []
    try:
        with admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                {"p": base},
            ).scalars().all()
            now = time.time()
            for name in names:
                if name == named.database:
                    continue
                if name.startswith(prefix) or _stale(name, base, now):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    dropped.append(name)
    finally:
        admin.dispose()
    return dropped
