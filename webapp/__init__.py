"""亲情医保: the application factory."""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask

from webapp.config import check_production, config_class


class App(Flask):
    """The Flask app, minus one per-request cost: it has no async views or hooks
    (tests/test_hot_paths.py checks), so each is called as it is. Flask's default asks
    ``inspect.iscoroutinefunction`` of every hook and the view on every request (Flask's docs
    name this method as the one to override); ~150 of a status poll's ~2 900 Python calls."""

    def ensure_sync(self, func: Any) -> Any:
        return func


def create_app(config: str | dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, instance config, extensions, blueprints, handlers, commands."""
    app = App(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    overrides = config if isinstance(config, dict) else {}
    name = config if isinstance(config, str) else overrides.get("ENV_NAME")
    name = name or os.environ.get("WEBAPP_ENV", "development")
    app.config.from_object(config_class(name))
    app.config.from_pyfile("config.py", silent=True)
    if name == "production":
        check_production({**app.config, **overrides}, os.environ)
    configure_paths(app)
    app.config.update(overrides)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_request_hooks(app)
    register_template_helpers(app)
    from webapp.codes.lane import init_poll_lane

    init_poll_lane(app)  # the token poll without Flask's request cycle (outermost wrapper)
    return app


def configure_paths(app: Flask) -> None:
    """Database URL, secret key (generated once into instance/), upload folder, and what the
    environment overrides: Redis, trusted hosts."""
    instance = Path(app.instance_path)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'webapp.sqlite'}",
    )
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    elif not app.config.get("SECRET_KEY"):
        key_file = instance / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        app.config["SECRET_KEY"] = key_file.read_text().strip()
    app.config.setdefault("UPLOAD_FOLDER", str(instance / "uploads"))
    if os.environ.get("REDIS_URL"):
        app.config["RATELIMIT_STORAGE_URI"] = os.environ["REDIS_URL"]
    hosts = [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()]
    if hosts:
        app.config["TRUSTED_HOSTS"] = hosts


def register_extensions(app: Flask) -> None:
    """Bind the extension objects and load the policy table (a bad file stops start-up)."""
    from webapp import models  # noqa: F401  (register the tables)
    from webapp.aid import services as aid  # noqa: F401  (invitation handlers)
    from webapp.extensions import csrf, db, limiter, login_manager, migrate
    from webapp.kinship import lifecycle as kinship_lifecycle  # noqa: F401  (invitation handlers)
    from webapp.policy import load_policy

    app.extensions["policy"] = load_policy(app.config.get("POLICY_FILE"))
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":  # a local file never drops a connection
            from webapp.dbpool import ping_idle_connections

            ping_idle_connections(db.engine, float(app.config["DB_PING_IDLE_SECONDS"]))
    migrate.init_app(app, db, directory=str(Path(__file__).parent.parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "info"

    tune_sqlite()

    @login_manager.user_loader
    def load_user(public_id: str):
        from webapp.sessions import prefetched_user

        user = prefetched_user(public_id)
        if user is not None:
            return user
        return db.session.scalar(user_by_public_id(), {"public_id": public_id})


@cache
def user_by_public_id():
    """The logged-in user's query, built once: every page needs the user and their person."""
    from sqlalchemy import bindparam, select
    from sqlalchemy.orm import joinedload

    from webapp.models import User

    return (select(User).options(joinedload(User.person))
            .where(User.public_id == bindparam("public_id")))


def register_blueprints(app: Flask) -> None:
    """Every blueprint of the app."""
    from webapp.blueprints import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    """Chinese error pages in the app's style; domain errors outside forms become pages too."""
    from webapp.errors import init_errorhandlers

    init_errorhandlers(app)


def register_commands(app: Flask) -> None:
    """Operator CLI commands."""
    from webapp.cli import init_commands

    init_commands(app)


def register_request_hooks(app: Flask) -> None:
    """Security headers; unstorable input refused; private answers uncached; request ids,
    access log, health checks and metrics."""
    from webapp.hardening import init_hardening
    from webapp.observability import init_observability
    from webapp.security import init_security

    init_security(app)
    init_hardening(app)
    init_observability(app)
    from webapp.assets import init_assets

    init_assets(app)  # fingerprinted static URLs, their caching, compression
    from webapp.prg import init_prg

    init_prg(app)  # a POST refused with an error page shows it on the GET after a 303
    from webapp.readonly import init_read_only

    init_read_only(app)  # the hottest reads without a transaction (after the others: first)
    from webapp.extensions import drop_idle_limiter_check

    drop_idle_limiter_check(app)  # every limit is on its view (blueprints are registered now)


def register_template_helpers(app: Flask) -> None:
    """Filters and globals for templates (masking, money, China time)."""
    from webapp.templating import init_templating

    init_templating(app)


def tune_sqlite() -> None:
    """SQLite (the embedded default) in WAL mode with a busy timeout.

    Concurrent requests otherwise queue on SQLite's single write lock with its sleeping busy
    handler; WAL lets readers proceed during a write (3-4x the code-refresh throughput in
    bench/run.py).
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if getattr(tune_sqlite, "done", False):
        return

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    setattr(tune_sqlite, "done", True)  # noqa: B010 - a flag on the function, set once
