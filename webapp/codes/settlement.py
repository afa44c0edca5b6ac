"""药店结算: verify a scanned 医保码 (1101), pre-settle (2101) and settle (2102) a purchase.

Stable service API (the pharmacy web pages and the POS JSON API both use exactly this):

``verify(code_text, pharmacy, actor) -> Verification`` (``verify_message`` under a msgid)
    Checks a scanned / typed code (case, spaces and dashes ignored): the patient, who showed
    it, and a fresh **settlement token** (clear text only here; its SHA-256 on the code row),
    bound to this code and pharmacy for ``SETTLEMENT_TOKEN_SECONDS`` (default 300); a later
    verify replaces it. Commits (audit 'code.verified'). Errors: unknown, expired, used,
    binding_ended, not_insured. ``lookup(token, pharmacy)`` re-reads it (token_invalid, …).

``presettle(token, pharmacy, amount_fen, items, business_type="02121") -> Split``
    The split ``settle`` would make now (个人账户 → 家庭共济 → 个人现金); reads only: no money
    moves, the token stays open, nothing is committed.

``settle(token, pharmacy, actor, amount_fen, items, business_type="02121", allow_cash=True,
msgid=None) -> Settlement``
    One transaction: consumes the code by a conditional UPDATE (exactly once), re-checks the
    binding (row lock) and the insured status, locks the payer accounts in id order, splits,
    writes a LedgerEntry per balance change, messages, audits 'settlement.create', commits.
    With a ``msgid`` (``webapp.codes.msgids``) the same msgid and arguments answer the original
    settlement (``.replayed``, nothing moves); other arguments → msgid_conflict; a reversed
    msgid → reversed. ``settle_message`` also keeps the API's answer. Errors: invalid_amount,
    invalid_items, invalid_business_type, token_invalid, token_expired, used, binding_ended,
    not_insured, insufficient (``allow_cash=False``), invalid_msgid.

Errors are DomainErrors of the registry ``webapp.api.errors`` (``.code``, Chinese
``.message``, ``.status``), the session rolled back first. ``actor`` is an audit Actor.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.orm import joinedload

from webapp import clock
from webapp.api.errors import fail, service_messages
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.codes import msgids, paid
from webapp.codes.accounts import Outcome, Split, debit, lock_accounts
from webapp.codes.checks import (
    BUSINESS_TYPES,
    ITEMS_MAX,
    cancel_days,
    check_amount,
    check_business_type,
    check_items,
    parse_amount,
)
from webapp.codes.notices import notify_settled, split_text
from webapp.codes.services import ALPHABET, CODE_LENGTH, hash_code, normalize
from webapp.codes.states import MessageKind
from webapp.codes.verification import Verification
from webapp.domain import DomainError, command
from webapp.extensions import db, write_through
from webapp.kinship.states import BindingStatus
from webapp.masking import mask_name
from webapp.models import (
    InsuranceCode,
    InsuredPerson,
    KinshipBinding,
    PersonalAccount,
    Pharmacy,
    Settlement,
)

__all__ = ["BUSINESS_TYPES", "ERRORS", "ITEMS_MAX", "Outcome", "Split", "check_amount",
           "Verification", "check_items", "lock_accounts", "parse_amount", "split_text"]

# Stable service error codes → the message a person sees (from the one registry).
ERRORS = service_messages()
Answer = Callable[[Settlement], dict[str, Any]]


class AidPayer(NamedTuple):
    """Who else pays through 家庭共济: the owner, their account, and how much they allow."""

    owner: InsuredPerson
    account: PersonalAccount
    allowed_fen: int


def aid_payer(patient: InsuredPerson, remaining_fen: int, at: datetime) -> AidPayer | None:
    """THE 家庭共济 SEAM: whose personal account pays (part of) ``remaining_fen`` for the patient.

    The owner of the active group the patient is an active member of, the owner's account and
    the most it allows for this purchase; None when no group pays. Side-effect free: settle
    calls it once to learn which account to lock and again after the locks are held. The rules
    live in ``webapp.aid.payments.payer_for``.
    """
    from webapp.aid.payments import payer_for  # aid.payments imports the codes package

    found = payer_for(patient, remaining_fen, at)
    return AidPayer(found.owner, found.account, found.allowed_fen) if found else None


def token_seconds() -> int:
    """How long a settlement token lives after verify."""
    return int(current_app.config.get("SETTLEMENT_TOKEN_SECONDS", 300))


def _hash_token(token: str) -> str:
    return hashlib.sha256((token or "").encode("utf-8", "ignore")).hexdigest()


def _check_state(row: InsuranceCode, now: datetime, check_expiry: bool) -> KinshipBinding | None:
    """Refuse a used / expired / ended-binding / not-insured code; the binding if any."""
    if row.used_at is not None:
        raise fail("used")
    if check_expiry and row.expires_at <= now:
        raise fail("expired")
    binding = row.binding  # loaded with the row (_with_patient), or one lookup
    if binding is not None and binding.status != BindingStatus.ACTIVE:
        raise fail("binding_ended")
    if not row.person.is_active:
        raise fail("not_insured")
    return binding


def verify(code_text: str, pharmacy: Pharmacy, actor: Actor) -> Verification:
    """Check a scanned code and hand out a settlement token bound to it and the pharmacy."""
    checked = _verify(code_text, pharmacy, actor)
    db.session.commit()
    return checked


def verify_message(code_text: str, pharmacy: Pharmacy, actor: Actor, msgid: str,
                   answer: Callable[[Verification], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """``verify`` under a msgid: (the first answer, whether this is a replay). Commits."""
    try:
        msgids.check_msgid(msgid, pharmacy)
        claimed = msgids.claim(pharmacy, msgid, MessageKind.VERIFY,
                               msgids.fingerprint("verify", normalize(code_text)))
        if not claimed.fresh:
            db.session.commit()
            return claimed.answer or {}, True
        shaped = answer(_verify(code_text, pharmacy, actor))
        msgids.finish(claimed, shaped)
        db.session.commit()
        return shaped, False
    except DomainError:
        db.session.rollback()
        raise


def _verify(code_text: str, pharmacy: Pharmacy, actor: Actor) -> Verification:
    """The verify's writes (no commit): the token on the code row, the audit row."""
    code = normalize(code_text)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise fail("unknown")
    # Fresh, like the consumed row in settle: the patient's rows (and whether they are in any
    # 共济 group) as the database has them now, also when this session loaded them before.
    row = db.session.scalar(_with_patient("code_hash"), {"code_hash": hash_code(code)},
                            execution_options={"populate_existing": True})
    if row is None:
        raise fail("unknown")
    now = clock.now()
    binding = _check_state(row, now, check_expiry=True)
    token = secrets.token_urlsafe(24)
    write_through(row, token_hash=_hash_token(token), token_pharmacy_id=pharmacy.id,
                  token_expires_at=now + timedelta(seconds=token_seconds()))
    audit.record("code.verified", actor, target=pharmacy, person=row.person,
                 detail={"pharmacy": pharmacy.code, "on_behalf": binding is not None})
    return Verification(row, row.person, row.holder, binding, pharmacy, token,
                        row.token_expires_at)


@cache
def _with_patient(by: str) -> Select:
    """The code row of ``by`` (``code_hash`` or ``id``, the parameter of that name) with its
    patient, their account and whether they are in any 家庭共济 group, and (a relative's code)
    the binding and its holder: one statement, built once per key."""
    from webapp.aid.payments import may_be_member  # aid.payments imports the codes package

    patient = joinedload(InsuranceCode.person)
    return select(InsuranceCode).options(
        patient.joinedload(InsuredPerson.account),
        patient.with_expression(InsuredPerson.in_aid_group, may_be_member()),
        joinedload(InsuranceCode.binding), joinedload(InsuranceCode.holder),
    ).where(getattr(InsuranceCode, by) == bindparam(by))


def _code_for_token(token: str, pharmacy: Pharmacy) -> InsuranceCode:
    row = db.session.scalar(
        select(InsuranceCode).where(InsuranceCode.token_hash == _hash_token(token))
    ) if token else None
    if row is None or row.token_pharmacy_id != pharmacy.id:
        raise fail("token_invalid")
    return row


def lookup(token: str, pharmacy: Pharmacy) -> Verification:
    """The still-open verification behind a token (for showing the patient card again)."""
    row = _code_for_token(token, pharmacy)
    now = clock.now()
    if row.used_at is None and row.token_expires_at and row.token_expires_at <= now:
        raise fail("token_expired")
    binding = _check_state(row, now, check_expiry=False)
    return Verification(row, row.person, row.holder, binding, pharmacy, token,
                        row.token_expires_at or now)


def _split(patient: InsuredPerson, amount_fen: int, now: datetime,
           balances: dict[int, int] | None = None) -> tuple[Split, AidPayer | None]:
    """Own account first, then the 家庭共济 seam, then cash; ``balances``: locked accounts."""
    own = patient.account

    def balance(account: PersonalAccount) -> int:
        return balances.get(account.id, 0) if balances is not None else account.balance_fen

    own_fen = min(balance(own), amount_fen) if own else 0
    aid_fen, payer = 0, None
    if amount_fen - own_fen > 0:
        payer = aid_payer(patient, amount_fen - own_fen, now)
        # Only an account other than the patient's own (and locked, when settling) may pay.
        if payer is not None and (balances is None or payer.account.id in balances) and (
                own is None or payer.account.id != own.id):
            aid_fen = max(0, min(amount_fen - own_fen, payer.allowed_fen, balance(payer.account)))
    split = Split(amount_fen, own_fen, aid_fen, amount_fen - own_fen - aid_fen,
                  payer.owner if aid_fen and payer else None)
    return split, payer if aid_fen else None


@command
def presettle(token: str, pharmacy: Pharmacy, amount_fen: int, items: str,
              business_type: str = "02121") -> Split:
    """2101: the split a settlement would make now; moves no money, keeps the token open."""
    check_amount(amount_fen, pharmacy)
    check_items(items)
    check_business_type(business_type)
    row = _code_for_token(token, pharmacy)
    now = clock.now()
    if row.used_at is not None:
        raise fail("used")
    if row.token_expires_at is None or row.token_expires_at <= now:
        raise fail("token_expired")
    _check_state(row, now, check_expiry=False)
    split, _ = _split(row.person, amount_fen, now)
    return split


def settle(token: str, pharmacy: Pharmacy, actor: Actor, amount_fen: int, items: str,
           business_type: str = "02121", allow_cash: bool = True,
           msgid: str | None = None) -> Settlement:
    """Consume the code and pay: own account → 家庭共济 seam → cash; one transaction."""
    done = settle_message(token, pharmacy, actor, amount_fen, items, business_type,
                          allow_cash, msgid=msgid)
    assert done.settlement is not None
    return done.settlement


def settle_message(token: str, pharmacy: Pharmacy, actor: Actor, amount_fen: int, items: str,
                   business_type: str = "02121", allow_cash: bool = True,
                   msgid: str | None = None, answer: Answer | None = None) -> Outcome:
    """``settle`` with the first answer kept for its msgid (``answer`` shapes it)."""
    try:
        return _settle_message(token, pharmacy, actor, amount_fen, items, business_type,
                               allow_cash, msgid, answer)
    except DomainError:
        db.session.rollback()
        raise


def _settle_message(token: str, pharmacy: Pharmacy, actor: Actor, amount_fen: int, items: str,
                    business_type: str, allow_cash: bool, msgid: str | None,
                    answer: Answer | None) -> Outcome:
    check_amount(amount_fen, pharmacy)
    items = check_items(items)
    check_business_type(business_type)
    claimed = None
    if msgid is not None:
        msgids.check_msgid(msgid, pharmacy)
        print_ = msgids.fingerprint("settle", token, amount_fen, items, business_type,
                                    allow_cash)
        claimed = msgids.claim(pharmacy, msgid, MessageKind.SETTLE, print_)
        if not claimed.fresh:
            original = claimed.earlier.settlement
            if original is None:  # pragma: no cover - a settle record always has its row
                raise fail("internal_error")
            original.replayed = True
            db.session.commit()  # the caller's own rows (an API request's audit row)
            return Outcome(original, True, claimed.answer)
    settlement = _settle(token, pharmacy, actor, amount_fen, items, business_type, allow_cash,
                         msgid)
    shaped = answer(settlement) if answer else None
    if claimed is not None:
        msgids.finish(claimed, shaped, settlement.id)
    db.session.commit()
    return Outcome(settlement, False, shaped)


@cache
def _consume_statement():
    """The consuming UPDATE … RETURNING id, built once."""
    return (
        update(InsuranceCode)
        .where(
            InsuranceCode.token_hash == bindparam("b_token_hash"),
            InsuranceCode.token_pharmacy_id == bindparam("b_pharmacy_id"),
            InsuranceCode.used_at.is_(None),
            InsuranceCode.token_expires_at > bindparam("b_now"),
        )
        .values(used_at=bindparam("b_now"))
        .returning(InsuranceCode.id)
    )


def _consume(token: str, pharmacy: Pharmacy, now: datetime) -> InsuranceCode:
    """Mark the code used iff it is unused and the token is live: exactly once."""
    consumed = db.session.execute(_consume_statement(), {
        "b_token_hash": _hash_token(token), "b_pharmacy_id": pharmacy.id, "b_now": now,
    }, execution_options={"synchronize_session": False}).scalar()
    if consumed is None:
        row = _code_for_token(token, pharmacy)
        db.session.refresh(row)
        if row.used_at is not None:
            raise fail("used")
        raise fail("token_expired")
    # Fresh (an earlier verify in this session may have loaded it).
    return db.session.scalars(_with_patient("id"), {"id": consumed},
                              execution_options={"populate_existing": True}).one()


@cache
def _binding_locked() -> Select:
    """A binding by ``id``, locked FOR UPDATE, built once."""
    return select(KinshipBinding).where(KinshipBinding.id == bindparam("id")).with_for_update()


@cache
def _insert_settlement():
    """The settlement's INSERT returning the new row as an object, built once."""
    return insert(Settlement).returning(Settlement)


def _settle(token: str, pharmacy: Pharmacy, actor: Actor, amount_fen: int, items: str,
            business_type: str, allow_cash: bool, msgid: str | None) -> Settlement:
    """The settlement's writes (no commit): consume, lock, split, ledger, notify, audit."""
    now = clock.now()
    row = _consume(token, pharmacy, now)
    patient = row.person
    binding = None
    if row.binding_id:
        binding = db.session.scalar(_binding_locked(), {"id": row.binding_id},
                                    execution_options={"populate_existing": True})
        if binding is None or binding.status != BindingStatus.ACTIVE:
            raise fail("binding_ended")
    if not patient.is_active:
        raise fail("not_insured")

    own = patient.account
    candidate = aid_payer(patient, amount_fen, now)
    locked = lock_accounts([a.id for a in (own, candidate.account if candidate else None)
                            if a is not None])
    split, payer = _split(patient, amount_fen, now, {i: a.balance_fen for i, a in locked.items()})
    if split.cash_fen and not allow_cash:
        raise fail("insufficient")

    # An ORM INSERT … RETURNING: the row comes back as a loaded object, without the unit of
    # work's flush (which cost a tenth of the settlement).
    settlement = db.session.scalars(_insert_settlement(), [dict(
        pharmacy_id=pharmacy.id, person_id=patient.id,
        holder_person_id=row.holder_person_id, binding_id=row.binding_id,
        staff_user_id=actor.user_id, actor_label=(actor.label or "")[:80],
        business_type=business_type, total_fen=amount_fen, account_fen=split.account_fen,
        aid_fen=split.aid_fen, aid_owner_person_id=payer.owner.id if payer else None,
        cash_fen=split.cash_fen, items=items, created_at=now, msgid=msgid,
    )]).one()
    write_through(row, settlement_id=settlement.id)  # now, not by a later autoflush
    if split.account_fen and own is not None:
        debit(locked[own.id], split.account_fen, "payment", settlement, patient,
               f"{pharmacy.name}购药", now)
    if payer is not None:
        debit(locked[payer.account.id], split.aid_fen, "aid_payment", settlement, patient,
               f"{mask_name(patient.name)}在{pharmacy.name}购药（家庭共济）", now)
    notify_settled(settlement, patient, pharmacy, payer.owner if payer else None)
    paid.after_commit(db.session(), row.code_hash,
                      paid.value(settlement, pharmacy.name, row.issued_by_user_id),
                      paid.settlement_keep_seconds(cancel_days(pharmacy)))
    audit.record("settlement.create", actor, target=settlement, person=patient, detail={
        "pharmacy": pharmacy.code, "business_type": business_type, "total_fen": amount_fen,
        "account_fen": split.account_fen, "aid_fen": split.aid_fen, "cash_fen": split.cash_fen,
        "on_behalf": binding is not None, "msgid": msgid,
    })
    return settlement
