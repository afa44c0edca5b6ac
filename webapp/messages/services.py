"""站内消息: sending and reading in-app messages (the inbox and badge: messages.queries)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from webapp import clock
from webapp.columns import new_public_id
from webapp.domain import NotFound
from webapp.extensions import db, insert_row
from webapp.models import InsuredPerson, Message


def page(endpoint: str, **values: Any) -> str:
    """A site-relative link to a page of the app for a message (works outside a request)."""
    return current_app.url_map.bind("").build(endpoint, values)


def send(person: InsuredPerson, title: str, body: str = "", category: str = "system",
         link: str = "") -> str:
    """Queue a message to a person (committed with the caller's transaction); its public id.

    Written at once by a Core INSERT, not flushed by the unit of work: a settlement sends up to
    four, and its notices were a fifth of the POS settle request."""
    public_id = new_public_id()
    insert_row(Message, public_id=public_id, recipient_person_id=person.id, title=title[:80],
               body=body, category=category, link=link)
    return public_id


def open_message(person_id: int, public_id: str) -> Message:
    """Fetch one of the person's own messages and mark it read (404 for anyone else's)."""
    message = db.session.scalar(
        select(Message).where(
            Message.public_id == public_id, Message.recipient_person_id == person_id
        )
    )
    if message is None:
        raise NotFound("消息不存在")
    if message.read_at is None:
        message.read_at = clock.now()
        db.session.commit()
    return message


def mark_all_read(person_id: int) -> int:
    """Mark every unread message of the person read; returns how many."""
    rows = db.session.scalars(
        select(Message).where(
            Message.recipient_person_id == person_id, Message.read_at.is_(None)
        )
    ).all()
    for row in rows:
        row.read_at = clock.now()
    db.session.commit()
    return len(rows)
