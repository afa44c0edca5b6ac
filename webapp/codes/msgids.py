"""Message ids (msgid) of state-changing pharmacy calls: format, claim once, replay, purge.

A msgid is ``prefix(12) + China time yyyyMMddHHmmss(14) + sequence(4)``, 30 characters, as
the national platform's 报文ID. ``prefix`` is the pharmacy's 定点机构编码 left-padded with
"0" to 12 characters (the national codes, e.g. ``P36010200001``, are exactly 12).

``claim`` inserts the message's row (``INSERT .. ON CONFLICT DO NOTHING``: a concurrent
transaction holding the same msgid makes it wait, then see that row) and answers whether this
call is the first. The first call does its work and ``finish`` stores the answer in the same
transaction; a repeat with the same fingerprint is a replay, one with another fingerprint
``msgid_conflict``, and a msgid a reversal reserved is ``reversed``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp import clock
from webapp.api.errors import fail
from webapp.codes.models import MessageRecord
from webapp.codes.states import MessageKind
from webapp.extensions import db, update_row
from webapp.models import Pharmacy
from webapp.policy import policy_for

_TABLE = cast(Table, MessageRecord.__table__)

PREFIX_LENGTH = 12
MSGID_LENGTH = 30
MSGID_RE = re.compile(r"([A-Za-z0-9]{12})([0-9]{14})([0-9]{4})")


def prefix_of(pharmacy: Pharmacy) -> str:
    """The 12-character msgid prefix of a pharmacy (its code, left-padded with '0')."""
    return pharmacy.code.rjust(PREFIX_LENGTH, "0")[:PREFIX_LENGTH]


_SEQUENCE = itertools.count(secrets.randbelow(10000))


def new_msgid(pharmacy: Pharmacy, at: datetime | None = None) -> str:
    """A fresh msgid of this pharmacy (for a web form's hidden field: its double-submit guard)."""
    moment = at or clock.now()
    local = clock.to_china(moment)
    # A per-process counter from a random start: ids made in one second (or under a frozen
    # clock) differ; two workers collide only if their counters meet in the same second.
    sequence = f"{next(_SEQUENCE) % 10000:04d}"
    return f"{prefix_of(pharmacy)}{local:%Y%m%d%H%M%S}{sequence}"


def check_msgid(msgid: Any, pharmacy: Pharmacy, field: str = "msgid") -> str:
    """The msgid if well-formed and this pharmacy's own; else ``invalid_msgid``."""
    match = MSGID_RE.fullmatch(msgid) if isinstance(msgid, str) else None
    if match is None:
        raise fail("invalid_msgid", field=field)
    if match.group(1) != prefix_of(pharmacy):
        raise fail("invalid_msgid", f"报文ID的前12位应为本机构编号 {prefix_of(pharmacy)}",
                   field=field)
    try:
        datetime.strptime(match.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        raise fail("invalid_msgid", "报文ID中的时间无效", field=field) from None
    return msgid


def fingerprint(kind: str, *parts: Any) -> str:
    """SHA-256 of what a request means (same meaning → same fingerprint)."""
    text = json.dumps([kind, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Claim:
    """The message row of a call: a first call (``fresh``: it must do the work) knows only its
    row's id, nothing is read back; a repeated one has the earlier ``record``."""

    id: int
    msgid: str
    record: MessageRecord | None = None

    @property
    def fresh(self) -> bool:
        """Whether this call is the message's first."""
        return self.record is None

    @property
    def answer(self) -> dict[str, Any] | None:
        """The first call's stored answer (None when it stored none, or this is the first)."""
        return stored_answer(self.record) if self.record is not None else None

    @property
    def earlier(self) -> MessageRecord:
        """The record of the first call (a repeated call only)."""
        assert self.record is not None, "a first call has no earlier record"
        return self.record


def stored_answer(record: MessageRecord) -> dict[str, Any] | None:
    """The answer kept on a message's row (None when it kept none)."""
    return json.loads(record.answer) if record.answer else None


def _insert(values: dict[str, Any]) -> int | None:
    """INSERT the row unless (pharmacy, msgid) exists; its id when this call inserted it."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_TABLE).values(**values).on_conflict_do_nothing(
        index_elements=["pharmacy_id", "msgid"]).returning(_TABLE.c.id)
    return db.session.execute(statement).scalar()


def find(pharmacy_id: int, msgid: str) -> MessageRecord | None:
    """The recorded message of a pharmacy (fresh from the database)."""
    return db.session.scalar(
        select(MessageRecord)
        .where(MessageRecord.pharmacy_id == pharmacy_id, MessageRecord.msgid == msgid)
        .execution_options(populate_existing=True))


def claim(pharmacy: Pharmacy, msgid: str, kind: MessageKind, print_: str,
          original_msgid: str | None = None) -> Claim:
    """Record the message, or find its earlier record: replay, ``reversed`` or ``msgid_conflict``."""
    inserted = _insert({"pharmacy_id": pharmacy.id, "msgid": msgid, "kind": kind.value,
                        "fingerprint": print_, "original_msgid": original_msgid, "answer": "",
                        "created_at": clock.now()})
    if inserted is not None:
        return Claim(inserted, msgid)
    record = find(pharmacy.id, msgid)
    if record is None:  # pragma: no cover - the row was seen just now
        raise fail("internal_error")
    if record.kind == MessageKind.REVERSED:
        raise fail("reversed", field="msgid")
    if record.kind != kind or record.fingerprint != print_:
        raise fail("msgid_conflict", field="msgid")
    return Claim(record.id, msgid, record)


def reserve_reversed(pharmacy: Pharmacy, msgid: str) -> MessageRecord | None:
    """Mark a msgid that never arrived as reversed; None when it has arrived meanwhile."""
    if _insert({"pharmacy_id": pharmacy.id, "msgid": msgid, "kind": MessageKind.REVERSED.value,
                "fingerprint": "", "answer": "", "created_at": clock.now()}) is not None:
        return find(pharmacy.id, msgid)
    return None


def finish(claimed: Claim, answer: dict[str, Any] | None, settlement_id: int | None = None) -> None:
    """Store the first answer (and the settlement it concerns) on the message's row."""
    values: dict[str, Any] = {
        "answer": json.dumps(answer, ensure_ascii=False) if answer is not None else ""}
    if settlement_id is not None:
        values["settlement_id"] = settlement_id
    update_row(_TABLE, claimed.id, **values)


def keep_days(region_code: str) -> int:
    """How many days a region's message ids are kept (policy ``pharmacy.msgid_keep_days``)."""
    rules = policy_for(region_code).pharmacy
    return rules.msgid_keep_days


def purge(now: datetime | None = None) -> int:
    """Delete message ids older than their region's retention; the number deleted. Commits."""
    moment = now or clock.now()
    regions = db.session.scalars(select(Pharmacy.region_code).distinct()).all()
    deleted = 0
    for region in regions:
        cutoff = moment - timedelta(days=keep_days(region))
        pharmacies = select(Pharmacy.id).where(Pharmacy.region_code == region)
        result = db.session.execute(
            delete(MessageRecord)
            .where(MessageRecord.pharmacy_id.in_(pharmacies), MessageRecord.created_at < cutoff)
            .execution_options(synchronize_session=False))
        deleted += int(getattr(result, "rowcount", 0) or 0)
    db.session.commit()
    return deleted
