"""Flask extension objects, created here and bound to the app in create_app()."""

import time
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import CursorResult, Insert, MetaData, Update, bindparam, insert, inspect, update
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import set_committed_value

# Named constraints so that Alembic migrations (and SQLite batch mode) stay deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# Every model subclasses ``Model``: db.Model at run time, its declarative Base for the type
# checker (which cannot see the class flask-sqlalchemy makes at run time).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def add_retry_after(response):
    """An API 429 of a Flask-Limiter limit gets ``Retry-After``: whole seconds (at least 1)
    until the broken limit's window lets a request through again, so that a POS system knows
    when to retry. The window is read from the store here, on refusal only
    (RATELIMIT_HEADERS_ENABLED is off: it read it on every limited request). Pages need no
    header: their 429 is a Chinese page after a redirect (webapp/prg.py)."""
    broken = limiter.current_limit
    if response.status_code == 429 and broken is not None and broken.breached:
        try:
            reset_at = broken.reset_at
        except Exception:  # the store is unreachable: the refusal stands without the header
            return response
        response.headers["Retry-After"] = str(max(1, int(reset_at - time.time())))
    return response


def init_proxy_fix(app) -> None:
    """Behind TRUSTED_PROXY_HOPS reverse proxies, take the client address, scheme and host from
    their X-Forwarded-For/-Proto/-Host (werkzeug ProxyFix); with 0 (the default) those headers
    are ignored, since any client could send them."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def rows_changed(stmt: Update) -> int:
    """Run a conditional UPDATE (session not synchronised) and count the rows it changed."""
    result = db.session.execute(stmt.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


def write_through(row: Any, **values: Any) -> None:
    """Set columns of one loaded row with a Core ``UPDATE … WHERE id = …`` now, and keep the
    object in step (its attributes read the new values; nothing is left for the unit of work,
    whose flush of a changed object costs several times the statement on a hot path). Not for
    rows with a version counter (their UPDATE must check it)."""
    mapper = inspect(row).mapper
    assert mapper.version_id_col is None, f"{mapper.class_.__name__} has a version counter"
    update_row(mapper.local_table, row.id, **values)
    for name, value in values.items():
        set_committed_value(row, name, value)


def update_row(table: Any, row_id: int, **values: Any) -> None:
    """``UPDATE table SET … WHERE id = row_id`` with a Core statement built once per set of
    columns (for rows not loaded as objects; a loaded one goes through ``write_through``)."""
    db.session.execute(_update_by_id(table, tuple(sorted(values))), {"_row_id": row_id, **values})


def insert_row(model: Any, **values: Any) -> None:
    """INSERT one row of ``model`` with a Core statement now, in the session's transaction, for
    rows nothing reads back as objects (audit, messages, ledger): the column defaults (public
    id, created_at) apply as with the ORM, without the unit of work's flush."""
    db.session.execute(_insert_into(model.__table__), values)


@cache
def _insert_into(table: Any) -> Insert:
    return insert(table)


@cache
def _update_by_id(table: Any, names: tuple[str, ...]) -> Update:
    return update(table).where(table.c.id == bindparam("_row_id")).values(
        {name: bindparam(name) for name in names})


def drop_idle_limiter_check(app) -> bool:
    """Unregister Flask-Limiter's before-request check when it has nothing to check (whether it
    did so). Every limit of this app is a ``@limiter.limit`` on a view, and such a view checks
    its limits itself when it runs; the app-wide hook only evaluates application, default,
    meta and blueprint limits, and costs ~6 % of a request that has none (~215 Python calls).
    An operator who configures any of those (``RATELIMIT_DEFAULT``, …) keeps the hook."""
    manager = limiter.limit_manager
    if (manager.application_limits or manager.default_limits or limiter._meta_limits
            or any(manager._blueprint_limits.values())):
        return False
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
    return True
