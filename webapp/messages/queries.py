"""Read side of 站内消息: the unread badge and the inbox page (nothing here writes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from webapp.extensions import db
from webapp.models import Message

PER_PAGE = 20


def unread_count(person_id: int) -> int:
    """How many unread messages the person has."""
    return db.session.scalar(
        select(func.count(Message.id)).where(
            Message.recipient_person_id == person_id, Message.read_at.is_(None)
        )
    ) or 0


def inbox_query(person_id: int) -> Select:
    """Select statement of the person's messages, newest first."""
    return (
        select(Message)
        .where(Message.recipient_person_id == person_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
    )


def inbox_page(person_id: int, page_no: int, per_page: int = PER_PAGE) -> Any:
    """One page (flask_sqlalchemy Pagination) of the person's messages, newest first."""
    return db.paginate(inbox_query(person_id), page=page_no, per_page=per_page,
                       error_out=False)
