"""``X-API-Key`` authentication, per-key rate limiting and the per-request audit row."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request

from webapp.api import keys as api_keys
from webapp.audit.services import Actor
from webapp.blueprints.api.errors import ApiError, error_response, from_domain
from webapp.domain import DomainError
from webapp.extensions import db
from webapp.models import ApiKey

HEADER = "X-API-Key"


def current_key() -> ApiKey:
    """The API key of this request (set by ``api_key_required``)."""
    return g.api_key


def current_api_actor() -> Actor:
    """The Actor of this request: no user, label 'api:<prefix>', the client's address."""
    return g.api_actor


def verify_limit() -> str:
    """The per-key rate limit of code verification and settlement (RATELIMIT_CODE_VERIFY)."""
    return current_app.config.get("RATELIMIT_CODE_VERIFY", "120 per minute")


def key_of_request() -> str:
    """Rate-limit bucket: the API key (a whole chain's POS systems may share one address)."""
    key = g.get("api_key")
    return f"api:{key.prefix}" if key is not None else f"ip:{request.remote_addr or ''}"


def api_key_required(endpoint: str) -> Callable:
    """Require an active API key; audit the request ('api.key_used') and stamp last_used_at.

    The audit row joins the view's own transaction (the service commits it with its change);
    when the view is refused, the row is written again with the error code, so that every
    authenticated request leaves exactly one 'api.key_used' row. Refused keys leave none
    (nothing to attribute them to) and are answered 401 before any other work.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = api_keys.authenticate(request.headers.get(HEADER))
            if key is None:
                raise ApiError("unauthorized")
            actor = api_keys.actor_for(key, ip=request.remote_addr or "",
                                       user_agent=(request.user_agent.string or "")[:200])
            g.api_key, g.api_actor = key, actor
            detail = {"endpoint": endpoint, "method": request.method}
            api_keys.record_use(key, actor, detail, commit=False)
            # The answer is built from the rows the service has just written and committed:
            # keep them loaded instead of re-reading each one after the commit. (A rollback
            # still expires everything; the setting is restored when the request ends.)
            session = db.session()
            expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
            try:
                response = view(*args, **kwargs)
            except (ApiError, DomainError) as err:
                db.session.rollback()
                refusal = err if isinstance(err, ApiError) else from_domain(err)
                api_keys.record_use(key, actor, {**detail, "error": refusal.code}, commit=True)
                return error_response(refusal)
            finally:
                session.expire_on_commit = expire_on_commit
            db.session.commit()  # a read committed nothing yet; after a write this is cheap
            return response

        return wrapped

    return decorator
