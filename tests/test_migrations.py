"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL
from webapp import create_app
from webapp.extensions import db


def _schema_diff(app) -> list:
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)


def _migrated_app(url: str, tmp_path):
    app = create_app({"ENV_NAME": "testing", "SQLALCHEMY_DATABASE_URI": url,
                      "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with app.app_context():
        upgrade()
    return app


def test_migrations_match_models_on_sqlite(tmp_path):
    """Upgrading an empty SQLite database to head leaves no difference from the models."""
    app = _migrated_app(f"sqlite:///{tmp_path / 'm.sqlite'}", tmp_path)
    assert _schema_diff(app) == []
    with app.app_context():
        assert inspect(db.engine).has_table("kinship_binding")


def test_migrating_in_process_keeps_the_apps_loggers(tmp_path):
    """Alembic's logging config must not switch off the access log or upload warnings."""
    import logging

    for name in ("webapp.access", "webapp.kinship.materials"):
        logging.getLogger(name)
    _migrated_app(f"sqlite:///{tmp_path / 'l.sqlite'}", tmp_path)
    assert not logging.getLogger("webapp.access").disabled
    assert not logging.getLogger("webapp.kinship.materials").disabled


def test_downgrade_to_base_removes_every_table(tmp_path):
    """The migrations can be walked back to an empty database."""
    app = _migrated_app(f"sqlite:///{tmp_path / 'd.sqlite'}", tmp_path)
    with app.app_context():
        downgrade(revision="base")
        names = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert names == set()


def test_migrations_match_models_on_postgresql(tmp_path):
    """The same on PostgreSQL, in a throw-away database."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
    name = f"migr_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        app = _migrated_app(url, tmp_path)
        assert _schema_diff(app) == []
        with app.app_context():
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
