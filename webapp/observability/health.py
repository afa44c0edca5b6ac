"""Health endpoints for the load balancer and the metrics endpoint for Prometheus.

- ``/healthz``: the process is up (no database round trip);
- ``/readyz``: the database answers, Redis answers when ``REDIS_URL`` is set, and the database's
  Alembic revision is the migration scripts' head; 503 with the failing check otherwise;
- ``/metrics``: Prometheus' text format; with ``METRICS_TOKEN`` set only for
  ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
from functools import cache

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from sqlalchemy import text

from webapp.extensions import db
from webapp.observability import metrics

bp = Blueprint("ops", __name__)

OK = "ok"


@cache
def script_heads(directory: str) -> frozenset[str]:
    """The head revision(s) of the migration scripts (read once per process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def migrations_directory(app: Flask) -> str:
    """Where Flask-Migrate keeps this app's migration scripts."""
    return app.extensions["migrate"].directory


def check_database() -> str:
    """'ok' when the database answers a query, else what failed."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any failure means "not ready"; logged, not shown
        current_app.logger.warning("readyz: database unreachable (%s)", type(err).__name__)
        return "unreachable"
    return OK


def check_migrations() -> str:
    """'ok' when the database is at the scripts' head revision, else 'behind' / 'not migrated'."""
    try:
        heads = script_heads(migrations_directory(current_app))
    except Exception as err:  # no scripts shipped: nothing to compare with
        current_app.logger.warning("readyz: migration scripts unreadable (%s)", type(err).__name__)
        return "no scripts"
    try:
        with db.engine.connect() as conn:
            found = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception as err:
        current_app.logger.warning("readyz: no alembic_version (%s)", type(err).__name__)
        return "not migrated"
    return OK if found == set(heads) else "behind"


def redis_url(app: Flask) -> str:
    """The Redis the app uses, if any (config first, then the environment)."""
    return app.config.get("REDIS_URL") or os.environ.get("REDIS_URL", "")


def check_redis(url: str) -> str:
    """'ok' when Redis answers PING within a second."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as err:
        current_app.logger.warning("readyz: redis unreachable (%s)", type(err).__name__)
        return "unreachable"
    return OK


@bp.get("/healthz")
def healthz():
    """The process is up and answering."""
    return jsonify(status=OK)


@bp.get("/readyz")
def readyz():
    """Ready for traffic: every dependency answers and the schema is current (else 503)."""
    checks = {"database": check_database()}
    checks["migrations"] = check_migrations() if checks["database"] == OK else "unknown"
    url = redis_url(current_app)
    if url:
        checks["redis"] = check_redis(url)
    ready = all(value == OK for value in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503


@bp.get("/metrics")
def metrics_endpoint():
    """Prometheus metrics (behind a bearer token when METRICS_TOKEN is configured)."""
    token = current_app.config.get("METRICS_TOKEN") or os.environ.get("METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            abort(404)
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
