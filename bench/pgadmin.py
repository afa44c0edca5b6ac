"""The bench's PostgreSQL databases: made fresh (or cloned from a template) and dropped.

``server`` is a SQLAlchemy URL naming the server (its database is only used to connect).
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool


def _admin(server: URL):
    return create_engine(server.render_as_string(hide_password=False), poolclass=NullPool,
                         isolation_level="AUTOCOMMIT")


def url_of(server: URL, name: str) -> str:
    return server.set(database=name).render_as_string(hide_password=False)


def exists(server: URL, name: str) -> bool:
    engine = _admin(server)
    try:
        with engine.connect() as c:
            return bool(c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": name}))
    finally:
        engine.dispose()


def recreate(server: URL, name: str, template: str | None = None) -> str:
    """Drop ``name`` if it is there and create it (a copy of ``template`` when given); its URL."""
    engine = _admin(server)
    try:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'
                           + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        engine.dispose()
    return url_of(server, name)


def drop(server: URL, name: str) -> None:
    engine = _admin(server)
    try:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
