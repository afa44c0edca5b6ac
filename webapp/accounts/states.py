"""Account states and the kinds of documents an account consents to."""

from __future__ import annotations

from webapp.states import State


class AccountStatus(State):
    """The state of a login (``user_account.status``)."""

    ACTIVE = "active", "正常", "ok"
    CLOSED = "closed", "已注销", "off"


# Documents accepted at registration (webapp.accounts.documents holds titles and versions).
TERMS, PRIVACY, FACE = "terms", "privacy", "face"
CONSENT_KINDS = (TERMS, PRIVACY, FACE)
