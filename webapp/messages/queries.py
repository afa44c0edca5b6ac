"""Read side of 站内消息: the unread badge and the inbox page (nothing here writes)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from webapp.extensions import db
from webapp.models import Message

PER_PAGE = 20


# The badge shows "99+" from this many on: counting stops there (a person with thousands of
# unread payment notices costs one short index walk per page, not thousands of rows).
UNREAD_COUNT_CAP = 100


@cache
def _unread_count() -> Select:
    """The capped count, built once (it runs on every page with the tab bar)."""
    unread = (select(Message.id)
              .where(Message.recipient_person_id == bindparam("person_id"),
                     Message.read_at.is_(None))
              .limit(UNREAD_COUNT_CAP).subquery())
    return select(func.count()).select_from(unread)


def unread_count(person_id: int) -> int:
    """How many unread messages the person has, at most UNREAD_COUNT_CAP."""
    return db.session.connection().execute(
        _unread_count(), {"person_id": person_id}).scalar() or 0


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
