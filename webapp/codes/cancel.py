"""结算撤销 (2103) and 冲正 (2601): undo a settlement whole, money back the way it came.

``cancel(settlement, pharmacy, actor, reason, msgid=None) -> Settlement``
    A pharmacy cancels one of its own settlements within the policy window (the settlement's
    China day plus ``pharmacy.cancel_days``, default 0: the same day) and before that day is
    reconciled. Every payment ledger row gets a refund row pointing at it (``reverses_entry_id``,
    unique: a payment is refunded once), the cash part is recorded as refunded in cash, the code
    stays used; messages to the patient, the relative who showed the code and the 共济 owner;
    audit 'settlement.cancel'; commits. Cancelling a cancelled settlement answers it again and
    moves nothing. Errors: not_found (another pharmacy's too), cancel_window_closed,
    day_reconciled, invalid_reason, invalid_msgid, msgid_conflict, reversed.

``reverse(msgid, original_msgid, pharmacy, actor) -> Outcome``
    "Undo whatever that message did": a settle → cancelled as above; a message that never arrived
    → recorded, and its late arrival is refused (``reversed``); a reversal, cancel or verify →
    not_reversible. Itself idempotent by its own msgid.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from webapp import clock
from webapp.api.errors import fail
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.codes import msgids, paid, reconciliation
from webapp.codes.accounts import Outcome, lock_accounts, post
from webapp.codes.checks import cancel_days, check_reason
from webapp.codes.models import MessageRecord
from webapp.codes.notices import notify_cancelled
from webapp.codes.settlement import Answer
from webapp.codes.states import MessageKind, SettlementStatus
from webapp.domain import DomainError
from webapp.extensions import db, write_through
from webapp.models import LedgerEntry, Pharmacy, Settlement

REFUND_KINDS = {"payment": "refund", "aid_payment": "aid_refund"}
REVERSAL_REASON = "冲正"


def settlement_day(settlement: Settlement) -> date:
    """The China calendar day a settlement belongs to."""
    return clock.to_china(settlement.created_at).date()


def window_error(settlement: Settlement, pharmacy: Pharmacy) -> str | None:
    """Why this settlement can no longer be cancelled now (an error code), or None."""
    day = settlement_day(settlement)
    if (clock.today() - day).days > cancel_days(pharmacy):
        return "cancel_window_closed"
    if reconciliation.is_reconciled(pharmacy.id, day):
        return "day_reconciled"
    return None


def can_cancel(settlement: Settlement, pharmacy: Pharmacy) -> bool:
    """Whether the receipt may offer 撤销 now (own, settled, in the window, day not reconciled)."""
    return (settlement.pharmacy_id == pharmacy.id
            and settlement.status == SettlementStatus.SETTLED
            and window_error(settlement, pharmacy) is None)


@cache
def _settlement_locked() -> Select:
    """A pharmacy's settlement by public id with its patient, FOR UPDATE, built once."""
    return (select(Settlement)
            .options(joinedload(Settlement.person, innerjoin=True))  # the notices name them
            .where(Settlement.public_id == bindparam("public_id"),
                   Settlement.pharmacy_id == bindparam("pharmacy_id"))
            .with_for_update(of=Settlement))


def _own_settlement(settlement: Settlement | str, pharmacy: Pharmacy) -> Settlement:
    """The pharmacy's settlement, locked FOR UPDATE and fresh; not_found for anyone else's."""
    public_id = settlement.public_id if isinstance(settlement, Settlement) else settlement
    row = db.session.scalar(_settlement_locked(), {
        "public_id": str(public_id or ""), "pharmacy_id": pharmacy.id,
    }, execution_options={"populate_existing": True})
    if row is None:
        raise fail("not_found", "未找到该结算单", field="settlement_id")
    return row


def cancel(settlement: Settlement | str, pharmacy: Pharmacy, actor: Actor, reason: str,
           msgid: str | None = None) -> Settlement:
    """Cancel a settlement whole (see the module doc); the settlement, cancelled."""
    done = cancel_message(settlement, pharmacy, actor, reason, msgid)
    assert done.settlement is not None
    return done.settlement


def cancel_message(settlement: Settlement | str, pharmacy: Pharmacy, actor: Actor, reason: str,
                   msgid: str | None = None, answer: Answer | None = None) -> Outcome:
    """``cancel`` with its first answer kept for the msgid (``answer`` shapes it)."""
    try:
        clean = check_reason(reason)
        public_id = settlement.public_id if isinstance(settlement, Settlement) else settlement
        claimed = None
        if msgid is not None:
            msgids.check_msgid(msgid, pharmacy)
            claimed = msgids.claim(pharmacy, msgid, MessageKind.CANCEL,
                                   msgids.fingerprint("cancel", public_id, clean))
            if not claimed.fresh:
                return _replay(claimed, settlement_needed=True)
        done = _cancel(_own_settlement(public_id, pharmacy), pharmacy, actor, clean, answer)
        if claimed is not None:
            msgids.finish(claimed, done.answer, done.settlement.id if done.settlement else None)
        db.session.commit()
        return done
    except DomainError:
        db.session.rollback()
        raise


def _replay(claimed: msgids.Claim, settlement_needed: bool = False) -> Outcome:
    """The first answer of a repeated message (commits the caller's own rows)."""
    row = claimed.earlier.settlement
    if row is None and settlement_needed:
        # A cancel's record always names its settlement once committed; never answer without.
        raise fail("not_found")
    if row is not None:
        row.replayed = True
    db.session.commit()
    return Outcome(row, True, claimed.answer)


def _first_cancel_answer(settlement: Settlement) -> dict[str, Any] | None:
    """The answer stored with the cancel (or reversal) that cancelled this settlement."""
    record = db.session.scalar(
        select(MessageRecord)
        .where(MessageRecord.settlement_id == settlement.id,
               MessageRecord.kind.in_([MessageKind.CANCEL.value, MessageKind.REVERSAL.value]),
               MessageRecord.answer != "")
        .order_by(MessageRecord.id))
    return msgids.stored_answer(record) if record is not None else None


@cache
def _payments_of() -> Select:
    """The ledger rows that paid a settlement (``settlement_id``), built once."""
    return (select(LedgerEntry)
            .where(LedgerEntry.settlement_id == bindparam("settlement_id"),
                   LedgerEntry.kind.in_(list(REFUND_KINDS)))
            .order_by(LedgerEntry.id))


def _cancel(row: Settlement, pharmacy: Pharmacy, actor: Actor, reason: str,
            answer: Answer | None) -> Outcome:
    """Refund a locked settlement, or answer its earlier cancellation (no commit)."""
    if row.status == SettlementStatus.CANCELLED:
        row.replayed = True
        first = _first_cancel_answer(row)
        return Outcome(row, True, first if first is not None else (answer(row) if answer else None))
    problem = window_error(row, pharmacy)
    if problem is not None:
        raise fail(problem)
    now = clock.now()
    payments = db.session.scalars(_payments_of(), {"settlement_id": row.id}).all()
    locked = lock_accounts([p.account_id for p in payments])
    for payment in payments:
        post(locked[payment.account_id], -payment.amount_fen,  # a payment row is negative
             REFUND_KINDS[payment.kind], f"撤销：{payment.memo}", row.id,
             payment.beneficiary_person_id, now, reverses_entry_id=payment.id)
    write_through(row, status=SettlementStatus.CANCELLED, cancelled_at=now, cancel_reason=reason,
                  cash_refunded_fen=row.cash_fen)
    notify_cancelled(row)
    paid.after_commit(db.session(), None, {"settlement": row.public_id, "cancelled": True},
                      paid.settlement_keep_seconds(cancel_days(pharmacy)))
    audit.record("settlement.cancel", actor, target=row, person=row.person, detail={
        "pharmacy": pharmacy.code, "total_fen": row.total_fen, "account_fen": row.account_fen,
        "aid_fen": row.aid_fen, "cash_refunded_fen": row.cash_refunded_fen, "reason": reason,
    })
    return Outcome(row, False, answer(row) if answer else None)


ReversalAnswer = Any  # Callable[[str, str, Settlement | None], dict]


def reverse(msgid: str, original_msgid: str, pharmacy: Pharmacy, actor: Actor,
            answer: ReversalAnswer | None = None) -> Outcome:
    """2601: undo whatever ``original_msgid`` did (see the module doc); commits."""
    try:
        return _reverse(msgid, original_msgid, pharmacy, actor, answer)
    except DomainError:
        db.session.rollback()
        raise


def _reverse(msgid: str, original_msgid: str, pharmacy: Pharmacy, actor: Actor,
             answer: ReversalAnswer | None) -> Outcome:
    msgids.check_msgid(msgid, pharmacy)
    msgids.check_msgid(original_msgid, pharmacy, field="original_msgid")
    if original_msgid == msgid:
        raise fail("not_reversible", field="original_msgid")
    claimed = msgids.claim(pharmacy, msgid, MessageKind.REVERSAL,
                           msgids.fingerprint("reversal", original_msgid),
                           original_msgid=original_msgid)
    if not claimed.fresh:
        return _replay(claimed)
    original = msgids.find(pharmacy.id, original_msgid)
    if original is None:
        original = msgids.reserve_reversed(pharmacy, original_msgid)
        if original is not None:  # it never arrived: its late arrival is refused from now on
            return _finish_reversal(claimed, actor, pharmacy, original_msgid, None, answer)
        original = msgids.find(pharmacy.id, original_msgid)  # it arrived meanwhile
    if original is None or original.kind == MessageKind.REVERSED:
        return _finish_reversal(claimed, actor, pharmacy, original_msgid, None, answer)
    if original.kind != MessageKind.SETTLE or original.settlement is None:
        raise fail("not_reversible", field="original_msgid")
    row = _own_settlement(original.settlement.public_id, pharmacy)
    _cancel(row, pharmacy, actor, REVERSAL_REASON, None)
    return _finish_reversal(claimed, actor, pharmacy, original_msgid, row, answer)


def _finish_reversal(claimed: msgids.Claim, actor: Actor, pharmacy: Pharmacy,
                     original_msgid: str, row: Settlement | None,
                     answer: ReversalAnswer | None) -> Outcome:
    """Audit the reversal, keep its answer, commit."""
    shaped = answer(claimed.msgid, original_msgid, row) if answer else None
    msgids.finish(claimed, shaped, row.id if row is not None else None)
    audit.record("settlement.reversal", actor, target=pharmacy,
                 person=row.person if row is not None else None, detail={
                     "pharmacy": pharmacy.code, "msgid": claimed.msgid,
                     "original_msgid": original_msgid,
                     "settlement": row.public_id if row is not None else None})
    db.session.commit()
    return Outcome(row, False, shaped)
