"""Server-side sessions: the cookie carries only a random id, the data lives in ``web_session``.

The row is keyed by the SHA-256 of the id (a copy of the table yields no usable cookie), holds
the session as Flask's tagged JSON, the logged-in user's id (to end every session of a user)
and an idle expiry of PERMANENT_SESSION_LIFETIME. The id is replaced at every login (session
fixation), the row is deleted at logout, and a password change deletes the user's other rows.

The row is read through the request's ORM session in one statement together with its logged-in
user and their person (every logged-in page needs them: Flask-Login's user loader then takes
the user from the session instead of asking again). Rows are written on their own connection,
outside the request's ORM transaction (a view's rollback must not undo a logout).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

from flask import Flask, Request, Response, session
from flask.globals import request_ctx
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SessionInterface
from flask_login import user_logged_in
from sqlalchemy import Select, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import joinedload

from webapp import readonly
from webapp.accounts.models import WebSession
from webapp.extensions import db

SID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# The idle expiry is pushed forward at most this often (not on every request).
TOUCH_EVERY = timedelta(minutes=5)
# One save in this many deletes the expired rows.
PURGE_ONE_IN = 200

_serializer = TaggedJSONSerializer()


def wall_clock() -> datetime:
    """Now as naive UTC from the system clock: session expiry ignores the app clock, which
    tests and the demo move to play out business days."""
    return datetime.now(UTC).replace(tzinfo=None)


_table = cast(Table, WebSession.__table__)


def hash_sid(sid: str) -> str:
    """The stored key of a session id."""
    return hashlib.sha256(sid.encode()).hexdigest()


def new_sid() -> str:
    """A fresh random session id (256 bits, 43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


class ServerSession(SecureCookieSession):
    """The session dict with the id it was loaded under (None: not stored yet)."""

    def __init__(self, initial: Any = None, sid: str | None = None,
                 expires_at: datetime | None = None) -> None:
        super().__init__(initial)
        self.sid = sid
        self.expires_at = expires_at
        self.rotate = False
        self.opened_for = _user_key(self)
        # The logged-in user loaded with the row (see prefetched_user).
        self.user: Any = None


class ServerSessionInterface(SessionInterface):
    """Load and store sessions in the ``web_session`` table."""

    _static: str | None = None

    def _static_prefix(self, app: Flask) -> str:
        """'/static/' (asked of the app once: ``static_url_path`` is a property that computes)."""
        if self._static is None:
            self._static = f"{app.static_url_path}/" if app.static_url_path else "\x00"
        return self._static

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """The stored session of the cookie's id, or a new empty one."""
        sid = request.cookies.get(self.get_cookie_name(app), "")
        if SID_RE.match(sid):
            if request.path.startswith(self._static_prefix(app)):
                return ServerSession()  # static files never read the session: no query
            # The view decides whether this request runs without a transaction
            # (webapp/readonly.py): match it now, before the row is read (Flask matches the
            # request again after opening the session; matching is cheap).
            request_ctx.match_request()
            if _sessionless(app):
                return ServerSession()  # the view authenticates otherwise: nothing loaded
            readonly.begin(app)
            row = db.session.execute(
                _row_with_user(), {"sid_hash": hash_sid(sid), "now": wall_clock()}
            ).first()
            if row is not None:
                try:
                    data = _serializer.loads(row.data)
                except ValueError:
                    data = {}
                opened = ServerSession(data, sid=sid, expires_at=row.expires_at)
                opened.user = row[2]
                return opened
        return ServerSession()

    def save_session(self, app: Flask, session: ServerSession,  # type: ignore[override]
                     response: Response) -> None:
        """Write the session back: new id when new or rotated, row gone when emptied."""
        if session.accessed:
            response.vary.add("Cookie")
        if not session and session.sid is None:
            return  # nothing stored, nothing to store (every cookie-less or sessionless request)
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if not session:
            if session.sid is not None:
                _delete([hash_sid(session.sid)])
                response.delete_cookie(name, domain=domain, path=path,
                                       secure=self.get_cookie_secure(app),
                                       httponly=self.get_cookie_httponly(app),
                                       samesite=self.get_cookie_samesite(app))
            return
        now = wall_clock()
        expires_at = now + app.permanent_session_lifetime
        fresh_cookie = False
        if session.opened_for and _user_key(session) != session.opened_for:
            session.rotate = True  # logged out (or another user): the old id ends here
        if session.sid is None or session.rotate:
            if session.sid is not None:
                _delete([hash_sid(session.sid)])
            session.sid = new_sid()
            _insert(session, expires_at)
            fresh_cookie = True
        elif session.modified:
            _update(session, expires_at, with_data=True)
        elif session.expires_at is None or session.expires_at - now < (
            app.permanent_session_lifetime - TOUCH_EVERY
        ):
            _update(session, expires_at, with_data=False)
        else:
            return
        if secrets.randbelow(PURGE_ONE_IN) == 0:
            purge_expired()
        if fresh_cookie or (session.permanent and self.should_set_cookie(app, session)):
            response.set_cookie(
                name, session.sid,
                expires=self.get_expiration_time(app, session),
                httponly=self.get_cookie_httponly(app), domain=domain, path=path,
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
                partitioned=self.get_cookie_partitioned(app),
            )


WITHOUT_SESSION = "_without_session_when"


def without_session(when: Callable[[], bool]) -> Callable:
    """Mark a view whose requests, when ``when()`` holds (asked after the URL is matched),
    are served without loading the session (an empty, unsaved one; the cookie is left as it
    is): the view authenticates them another way (webapp/codes/polling.py)."""

    def mark(view: Callable) -> Callable:
        setattr(view, WITHOUT_SESSION, when)
        return view

    return mark


def _sessionless(app: Flask) -> bool:
    when = readonly.view_mark(app, WITHOUT_SESSION)
    return bool(when is not None and when())


@cache
def _row_with_user() -> Select:
    """The live row of a session id with its user and person (outer joins: a session without a
    login has none), built once: this runs before every request that carries a cookie."""
    from webapp.models import User

    return (
        select(_table.c.data, _table.c.expires_at, User)
        .outerjoin(User, User.public_id == _table.c.user_key)
        .options(joinedload(User.person))
        .where(_table.c.sid_hash == bindparam("sid_hash"), _table.c.expires_at > bindparam("now"))
    )


def prefetched_user(public_id: str) -> Any:
    """The user this request's session row was loaded with, when it is ``public_id``'s (None
    otherwise: the loader then asks the database)."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    user = getattr(current, "user", None)
    if user is not None and user.public_id == public_id:
        return user
    return None


def _user_key(data: dict) -> str | None:
    value = data.get("_user_id")
    return str(value)[:40] if value else None


def _store():
    """A transaction of its own for the session table (outside the request's, so that a
    view's rollback never undoes a logout; allowed during read-only requests)."""
    return db.engine.execution_options(session_store=True).begin()


def _insert(session: ServerSession, expires_at: datetime) -> None:
    with _store() as conn:
        conn.execute(insert(_table).values(
            sid_hash=hash_sid(session.sid or ""), user_key=_user_key(session),
            data=_serializer.dumps(dict(session)), created_at=wall_clock(),
            expires_at=expires_at,
        ))


def _update(session: ServerSession, expires_at: datetime, with_data: bool) -> None:
    values: dict[str, Any] = {"expires_at": expires_at}
    if with_data:
        values.update(data=_serializer.dumps(dict(session)), user_key=_user_key(session))
    with _store() as conn:
        # A row ended meanwhile (logout elsewhere, password change) is not brought back.
        conn.execute(
            update(_table).where(_table.c.sid_hash == hash_sid(session.sid or "")).values(**values)
        )


def _delete(sid_hashes: Iterable[str]) -> None:
    with _store() as conn:
        conn.execute(delete(_table).where(_table.c.sid_hash.in_(list(sid_hashes))))


def purge_expired() -> int:
    """Delete the expired rows; returns how many."""
    with _store() as conn:
        return conn.execute(delete(_table).where(_table.c.expires_at <= wall_clock())).rowcount


def current_sid_hash() -> str | None:
    """The stored key of this request's session (None outside a stored session)."""
    sid = getattr(session, "sid", None)
    return hash_sid(sid) if sid else None


def end_user_sessions(user_key: str, keep_sid_hash: str | None = None) -> None:
    """Delete every session of the user except the one kept (within the caller's transaction)."""
    query = delete(WebSession).where(WebSession.user_key == user_key)
    if keep_sid_hash:
        query = query.where(WebSession.sid_hash != keep_sid_hash)
    db.session.execute(query)


def _rotate_on_login(_app: Flask, **_extra: Any) -> None:
    """A login gets a new session id (the pre-login id is never logged in)."""
    current = session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, ServerSession):
        current.rotate = True


def init_sessions(app: Flask) -> None:
    """Use server-side sessions (config SERVER_SESSIONS, on unless set False)."""
    if not app.config.get("SERVER_SESSIONS", True):
        return
    app.session_interface = ServerSessionInterface()
    user_logged_in.connect(_rotate_on_login, app)
