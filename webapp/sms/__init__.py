"""SMS sending through a pluggable sender; the default writes to the outbox table.

Config ``SMS_SENDER`` names the class as ``"package.module:ClassName"``; it is built once per
app with the app as its only argument and must offer ``send(phone, text) -> None`` (raise
``SmsError`` when the provider refuses). The outbox sender adds a row to the caller's database
transaction, so a message is only "sent" when the code it carries was committed.
"""

from __future__ import annotations

from typing import Protocol

from flask import Flask, current_app
from werkzeug.utils import import_string

DEFAULT_SENDER = "webapp.sms.outbox:OutboxSender"


class SmsError(Exception):
    """The provider could not send the message."""


class SmsSender(Protocol):
    """What a provider implements."""

    def send(self, phone: str, text: str) -> None:
        """Send one text message to a mainland mobile number."""


def sender(app: Flask | None = None) -> SmsSender:
    """The app's sender, built on first use from config SMS_SENDER."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    built = app.extensions.get("sms_sender")
    if built is None:
        cls = import_string(app.config.get("SMS_SENDER") or DEFAULT_SENDER)
        built = cls(app)
        app.extensions["sms_sender"] = built
    return built


def send(phone: str, text: str) -> None:
    """Send a text message through the configured sender."""
    sender().send(phone, text)


from webapp.sms import outbox  # noqa: E402,F401  (registers the outbox table)
