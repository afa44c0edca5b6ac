"""Connection pool liveness: ping a pooled connection only when it sat idle.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout — one more round trip on
every request, while under load a connection handed back a few milliseconds ago is as alive as
a connection can be. Here a connection is pinged at checkout only when it has been idle in the
pool for more than ``DB_PING_IDLE_SECONDS`` (a database restart or a proxy's idle timeout is
what kills connections, and both need idle time); a dead one is replaced before the request
sees it (``DisconnectionError`` makes the pool connect afresh). A connection that dies while
busy fails its request with the app's 500 page, and the pool then drops every connection
older than the failure (SQLAlchemy's invalidation on a disconnect error), as before.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

CHECKED_IN = "qy_checked_in_at"


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Install the idle-only ping on ``engine``'s pool."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(CHECKED_IN)
        if since is None or time.monotonic() - since <= idle_seconds:
            return  # just connected, or handed back moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as err:  # any failure of the ping: this connection is not usable
            if dialect.loaded_dbapi and isinstance(err, dialect.loaded_dbapi.Error):
                raise exc.DisconnectionError(str(err)) from err
            raise
