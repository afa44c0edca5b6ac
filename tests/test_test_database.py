"""The suite never wipes a database it did not create: a sub-run keeps TEST_DATABASE_URL's data."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests import pg_database
from tests.conftest import NAMED_PG_URL

ROOT = Path(__file__).resolve().parent.parent

PROBE = '''
"""Runs inside the sub-run: the app works in a database of its own, empty of the marker."""
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from webapp.extensions import db


@pytest.mark.parametrize("n", [1, 2])
def test_probe(pg_app, n):
    name = db.session.execute(text("SELECT current_database()")).scalar()
    Path(os.environ["PROBE_OUT"], f"{n}.txt").write_text(name)
    assert name != os.environ["PROBE_NAMED"]
    marker = db.session.execute(text("SELECT to_regclass('public.keep_me')")).scalar()
    assert marker is None
'''


def test_run_database_names_are_per_run_and_per_worker(monkeypatch):
    """Two runs, and two workers of one run, never share a database; the named one is not used."""
    named = "postgresql+psycopg://postgres@127.0.0.1:5432/shared"
    monkeypatch.setenv(pg_database.RUN_ENV, "restored-after-the-test")
    monkeypatch.delenv(pg_database.WORKER_ENV, raising=False)
    first = pg_database.run_database_url(named)
    second = pg_database.run_database_url(named)
    assert first != second
    monkeypatch.setenv(pg_database.WORKER_ENV, "gw0")
    gw0 = pg_database.run_database_url(named)
    monkeypatch.setenv(pg_database.WORKER_ENV, "gw1")
    gw1 = pg_database.run_database_url(named)
    names = {make_url(u).database for u in (first, second, gw0, gw1)}
    assert len(names) == 4 and "shared" not in names
    assert all(n.startswith("shared_t") and len(n) <= 63 for n in names)
    assert pg_database.run_database_url("") == ""


@pytest.mark.postgres
@pytest.mark.parametrize("workers", [None, "2"], ids=["plain", "xdist"])
def test_a_run_leaves_the_named_database_untouched(tmp_path, workers):
    """A marker table in the named database survives a sub-run; the run's databases are gone."""
    if not NAMED_PG_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
    named = f"keep_{uuid.uuid4().hex[:10]}"
    admin = create_engine(NAMED_PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{named}"'))
    named_url = make_url(NAMED_PG_URL).set(database=named).render_as_string(hide_password=False)
    keep = create_engine(named_url, poolclass=NullPool)
    try:
        with keep.begin() as conn:
            conn.execute(text("CREATE TABLE keep_me (note text)"))
            conn.execute(text("INSERT INTO keep_me VALUES ('不要删除')"))
        probe = tmp_path / "test_probe_run.py"
        probe.write_text(PROBE)
        out = tmp_path / "out"
        out.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", pg_database.RUN_ENV))}
        env.update(TEST_DATABASE_URL=named_url, PROBE_OUT=str(out), PROBE_NAMED=named)
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml"), str(probe)]
        if workers:
            args += ["-n", workers]
        else:
            args += ["-p", "no:xdist"]
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        used = {p.read_text() for p in out.iterdir()}
        assert used and named not in used
        if workers:
            assert len(used) == 2  # one database per worker
        with keep.connect() as conn:
            assert conn.execute(text("SELECT note FROM keep_me")).scalars().all() == ["不要删除"]
        with admin.connect() as conn:
            left = conn.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                {"p": f"{named}_"},
            ).scalars().all()
        assert left == []
    finally:
        keep.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{named}" WITH (FORCE)'))
        admin.dispose()
