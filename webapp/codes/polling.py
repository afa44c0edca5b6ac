"""The 医保码 page's poll token: the payment-status poll authenticates with it, not the session.

The poll runs every few seconds for every open code page — the busiest request of the app by
far. With the session it costs the session row with its user and person, Flask-Login and the
CSRF check before one indexed lookup. The page instead gets, with every code it is shown (the
page itself and each refresh, both behind the session), a token signed with the app's secret
key that names the user, the patient, the subject key of the page's URL and how many of the
latest codes the poll may look at, valid until the code just issued can no longer end in a
payment (its validity plus the settlement token's lifetime). A poll carrying a valid token in
``X-Poll-Token`` is answered without loading the session at all (webapp/sessions.py
``without_session``); without one, or with an expired, altered or another page's token, it
takes the ordinary path: session, role and CSRF header.

What a token can do: ask what became of codes its user showed for its patient — the same
answer the page already shows — and nothing else, until it expires. Logging out ends the
session at once; a token the page already holds keeps answering for the rest of its lifetime
(at most validity + settlement-token seconds, a few minutes), since the next refresh, which
needs the session, fails. The token carries internal row ids (signed, not secret: only its
owner sees it, in their own page) and never appears in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from flask import current_app, g, request

HEADER = "X-Poll-Token"
PURPOSE = b"qy-poll-token-v1:"
MAX_LENGTH = 96
MAC_BYTES = 18  # 144 bits, 24 base64 characters
ROLE = "insured"  # tokens come with codes, which only insured users are shown


@dataclass(frozen=True)
class PollGrant:
    """What a valid token allows: the user's codes for one patient, the latest ``keep``."""

    user_id: int
    person_id: int
    keep: int


def _key() -> bytes:
    app = current_app
    key = app.extensions.get("poll_token_key")
    if key is None:
        secret = str(app.config["SECRET_KEY"]).encode()
        key = app.extensions["poll_token_key"] = hashlib.sha256(PURPOSE + secret).digest()
    return key


def _mac(payload: str, subject_key: str) -> str:
    digest = hmac.new(_key(), f"{payload}|{subject_key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode()


def issue(user_id: int, person_id: int, subject_key: str, keep: int, seconds: int) -> str:
    """A token for the poll of ``subject_key``'s page, valid ``seconds`` from now."""
    payload = f"{user_id}.{person_id}.{keep}.{int(time.time()) + seconds}"
    return f"{payload}.{_mac(payload, subject_key)}"


def grant(token: str, subject_key: str) -> PollGrant | None:
    """What ``token`` allows on ``subject_key``'s page (None: missing, altered, expired)."""
    if not token or len(token) > MAX_LENGTH:
        return None
    payload, _, mac = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and len(p) <= 12 for p in parts):
        return None
    if not hmac.compare_digest(mac, _mac(payload, subject_key)):
        return None
    user_id, person_id, keep, expires = (int(p) for p in parts)
    if expires < time.time() or keep < 1:
        return None
    return PollGrant(user_id, person_id, keep)


def request_grant() -> PollGrant | None:
    """The grant of this request's token for its page's subject (checked once per request)."""
    if "poll_grant" not in g:
        subject_key = str((request.view_args or {}).get("subject", ""))
        g.poll_grant = grant(request.headers.get(HEADER, ""), subject_key)
        if g.poll_grant is not None:
            g.access_role = ROLE  # what the access log names (no user is loaded)
    return g.poll_grant


def has_grant() -> bool:
    """Whether this request carries a valid poll token (the session is then not loaded)."""
    return request_grant() is not None
