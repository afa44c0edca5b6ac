"""药店结算: verify a scanned 医保码, then settle a purchase in one transaction.

Stable service API (the pharmacy web pages and the POS JSON API both use exactly this):

``verify(code_text, pharmacy, actor) -> Verification``
    Checks a scanned / typed code (normalised: case, spaces and dashes ignored) and returns the
    patient, the code row, who showed it (``holder``/``binding``, None when shown by the
    patient), and a fresh **settlement token** (``token``, clear text, returned only here;
    its SHA-256 is kept on the code row), bound to this code and this pharmacy and valid
    for ``SETTLEMENT_TOKEN_SECONDS`` (app config, default 300) from the verify. A later verify of
    the same code replaces the token. Commits (audit 'code.verified').
    Errors: unknown, expired, used, binding_ended, not_insured.

``lookup(token, pharmacy) -> Verification``
    The verification a token stands for (read-only, no commit; ``token`` is echoed back);
    for re-displaying the patient card. Errors: token_invalid, token_expired, used,
    binding_ended, not_insured.

``settle(token, pharmacy, actor, amount_fen, items, business_type="02121",
allow_cash=True) -> Settlement``
    One transaction: consumes the code by a conditional UPDATE (exactly once, even under
    concurrent requests), re-checks the binding (row lock) and the insured status, locks the
    payer accounts in id order and splits: the patient's own personal account first, then the
    家庭共济 seam ``aid_payer``, then cash (个人现金). Writes a LedgerEntry for every balance
    change, messages the patient and every holder who can show their code, audits
    'settlement.create', commits. The token stays valid after the code's own 90 s, until the
    token expires: the code was proven valid when it was verified.
    Errors: invalid_amount, invalid_items, invalid_business_type, token_invalid,
    token_expired, used, binding_ended, not_insured, insufficient (only when
    ``allow_cash=False`` and the accounts do not cover the amount).

``parse_amount(text, pharmacy) -> int`` (yuan text → fen, exact) and
``check_amount(amount_fen, pharmacy)``: invalid_amount unless 0 < amount ≤ the policy's
``pharmacy.max_amount_fen`` of the pharmacy's region.

Every error is a ``DomainError`` subclass with a stable ``.code`` (see ``ERRORS``), a Chinese
``.message`` and an HTTP-ish ``.status`` (404 unknown/token_invalid, 409 state conflicts, 400
input). The session is rolled back before any error leaves ``settle``.

``actor`` is a ``webapp.audit.services.Actor``: a staff user (``actor.user`` with
``pharmacy_id``), or for the API an Actor with ``user=None`` and ``label="api:<key name>"``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import NamedTuple

from flask import current_app
from sqlalchemy import select, update

from webapp import clock
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.codes.services import ALPHABET, CODE_LENGTH, hash_code, holder_kin_word, normalize
from webapp.domain import Conflict, DomainError, NotFound
from webapp.extensions import db
from webapp.kinship.access import bindings_to
from webapp.masking import mask_name
from webapp.messages import services as messages
from webapp.models import (
    InsuranceCode,
    InsuredPerson,
    KinshipBinding,
    LedgerEntry,
    PersonalAccount,
    Pharmacy,
    Settlement,
)
from webapp.money import YuanError, parse_yuan, yuan
from webapp.policy import policy_for

BUSINESS_TYPES = {"02121": "药店购药"}
ITEMS_MAX = 200

# Stable error codes → the message a person sees.
ERRORS = {
    "unknown": "无效的医保码",
    "expired": "医保码已过期，请让顾客刷新后重新出示",
    "used": "该医保码已使用",
    "binding_ended": "该亲属绑定已解除，医保码无效",
    "not_insured": "该参保人当前未处于参保状态",
    "token_invalid": "结算凭证无效，请重新扫码",
    "token_expired": "结算凭证已过期，请重新扫码",
    "insufficient": "账户余额不足",
    "invalid_amount": "请输入正确的金额",
    "invalid_items": "请填写药品或项目",
    "invalid_business_type": "不支持的业务类型",
}


def fail(code: str, message: str | None = None, field: str | None = None) -> DomainError:
    """The DomainError for a stable error code (404 / 409 / 400 by kind)."""
    text = message or ERRORS[code]
    if code in ("unknown", "token_invalid"):
        return NotFound(text, field=field, code=code)
    if code in ("expired", "used", "binding_ended", "not_insured", "token_expired",
                "insufficient"):
        return Conflict(text, field=field, code=code)
    return DomainError(text, field=field, code=code)


@dataclass(frozen=True)
class Verification:
    """A verified code: who the patient is, who showed it, and the settlement token."""

    code: InsuranceCode
    patient: InsuredPerson
    holder: InsuredPerson | None
    binding: KinshipBinding | None
    pharmacy: Pharmacy
    token: str
    token_expires_at: datetime

    @property
    def shown_by(self) -> str:
        """'本人出示' or '由 李*（母亲）代为出示'."""
        if self.binding is None or self.holder is None:
            return "本人出示"
        return f"由 {mask_name(self.holder.name)}（{holder_kin_word(self.binding)}）代为出示"

    @property
    def age(self) -> int:
        """The patient's age today (周岁)."""
        return self.patient.age_on(clock.today())

    @property
    def balance_fen(self) -> int:
        """The patient's own personal-account balance."""
        return self.patient.balance_fen

    @cached_property
    def aid_available_fen(self) -> int:
        """What 家庭共济 could add right now (worked out once: the patient card reads it twice)."""
        payer = aid_payer(self.patient, policy_for(self.pharmacy.region_code)
                          .pharmacy.max_amount_fen, clock.now())
        return min(payer.allowed_fen, payer.account.balance_fen) if payer else 0

    @property
    def max_amount_fen(self) -> int:
        """The largest amount this pharmacy may settle at once."""
        return policy_for(self.pharmacy.region_code).pharmacy.max_amount_fen


class AidPayer(NamedTuple):
    """Who else pays through 家庭共济: the owner, their account, and how much they allow."""

    owner: InsuredPerson
    account: PersonalAccount
    allowed_fen: int


def aid_payer(patient: InsuredPerson, remaining_fen: int, at: datetime) -> AidPayer | None:
    """THE 家庭共济 SEAM: whose personal account pays (part of) ``remaining_fen`` for the patient.

    The owner of the active group the patient is an active member of (authorisation window
    covering ``at``, same province, owner insured and active), the owner's PersonalAccount and
    the most it allows for this purchase; None when no group pays. ``settle`` caps the amount by the owner's locked balance, writes
    the 'aid_payment' ledger row and messages the owner. Must be side-effect free: settle
    calls it once to learn which account to lock and again after the locks are held.
    The rules (window, monthly cap, province, owner status) live in
    ``webapp.aid.payments.payer_for``.
    """
    from webapp.aid.payments import payer_for

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
    binding = db.session.get(KinshipBinding, row.binding_id) if row.binding_id else None
    if binding is not None and binding.status != "active":
        raise fail("binding_ended")
    if not row.person.is_active:
        raise fail("not_insured")
    return binding


def verify(code_text: str, pharmacy: Pharmacy, actor: Actor) -> Verification:
    """Check a scanned code and hand out a settlement token bound to it and the pharmacy."""
    code = normalize(code_text)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise fail("unknown")
    row = db.session.scalar(select(InsuranceCode).where(InsuranceCode.code_hash == hash_code(code)))
    if row is None:
        raise fail("unknown")
    now = clock.now()
    binding = _check_state(row, now, check_expiry=True)
    token = secrets.token_urlsafe(24)
    row.token_hash = _hash_token(token)
    row.token_pharmacy_id = pharmacy.id
    row.token_expires_at = now + timedelta(seconds=token_seconds())
    audit.record("code.verified", actor, target=pharmacy, person=row.person,
                 detail={"pharmacy": pharmacy.code, "on_behalf": binding is not None})
    db.session.commit()
    return Verification(row, row.person, row.holder, binding, pharmacy, token,
                        row.token_expires_at)


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
    if row.used_at is None and row.token_expires_at <= now:
        raise fail("token_expired")
    binding = _check_state(row, now, check_expiry=False)
    return Verification(row, row.person, row.holder, binding, pharmacy, token,
                        row.token_expires_at)


def check_amount(amount_fen: int, pharmacy: Pharmacy) -> int:
    """Refuse an amount that is not a positive integer of fen within the policy maximum."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise fail("invalid_amount", "金额必须大于0", field="amount")
    max_fen = policy_for(pharmacy.region_code).pharmacy.max_amount_fen
    if amount_fen > max_fen:
        raise fail("invalid_amount", f"单笔金额不能超过¥{yuan(max_fen)}", field="amount")
    return amount_fen


def parse_amount(text: str | None, pharmacy: Pharmacy) -> int:
    """Yuan as typed ('23.5', '23.50') → integer fen, exactly; refuses anything else."""
    try:
        fen = parse_yuan(text)
    except YuanError:
        raise fail("invalid_amount", "请输入正确的金额（单位元，最多两位小数）", field="amount") from None
    return check_amount(fen, pharmacy)


def check_items(items: str | None) -> str:
    """The item text: required, at most ITEMS_MAX characters."""
    items = (items or "").strip()
    if not items:
        raise fail("invalid_items", "请填写药品或项目", field="items")
    if len(items) > ITEMS_MAX:
        raise fail("invalid_items", f"药品或项目不能超过{ITEMS_MAX}个字", field="items")
    return items


def settle(token: str, pharmacy: Pharmacy, actor: Actor, amount_fen: int, items: str,
           business_type: str = "02121", allow_cash: bool = True) -> Settlement:
    """Consume the code and pay: own account → 家庭共济 seam → cash; one transaction."""
    try:
        return _settle(token, pharmacy, actor, amount_fen, items, business_type, allow_cash)
    except DomainError:
        db.session.rollback()
        raise


def _consume(token: str, pharmacy: Pharmacy, now: datetime) -> InsuranceCode:
    """Mark the code used iff it is unused and the token is live: exactly once."""
    result = db.session.execute(
        update(InsuranceCode)
        .where(
            InsuranceCode.token_hash == _hash_token(token),
            InsuranceCode.token_pharmacy_id == pharmacy.id,
            InsuranceCode.used_at.is_(None),
            InsuranceCode.token_expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    row = _code_for_token(token, pharmacy)
    if result.rowcount != 1:
        db.session.refresh(row)
        if row.used_at is not None:
            raise fail("used")
        raise fail("token_expired")
    db.session.refresh(row)
    return row


def _lock_accounts(ids: list[int]) -> dict[int, PersonalAccount]:
    rows = db.session.scalars(
        select(PersonalAccount)
        .where(PersonalAccount.id.in_(sorted(set(ids))))
        .order_by(PersonalAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {a.id: a for a in rows}


def _settle(token, pharmacy, actor, amount_fen, items, business_type, allow_cash) -> Settlement:
    check_amount(amount_fen, pharmacy)
    items = check_items(items)
    if business_type not in BUSINESS_TYPES:
        raise fail("invalid_business_type", field="business_type")
    now = clock.now()
    row = _consume(token, pharmacy, now)
    patient = row.person
    binding = None
    if row.binding_id:
        binding = db.session.scalar(
            select(KinshipBinding).where(KinshipBinding.id == row.binding_id)
            .with_for_update().execution_options(populate_existing=True)
        )
        if binding is None or binding.status != "active":
            raise fail("binding_ended")
    if not patient.is_active:
        raise fail("not_insured")

    own = db.session.scalar(select(PersonalAccount).where(PersonalAccount.person_id == patient.id))
    candidate = aid_payer(patient, amount_fen, now)
    ids = [a.id for a in (own, candidate.account if candidate else None) if a is not None]
    locked = _lock_accounts(ids)

    own_fen = min(locked[own.id].balance_fen, amount_fen) if own else 0
    aid_fen, payer = 0, None
    if amount_fen - own_fen > 0 and candidate is not None:
        payer = aid_payer(patient, amount_fen - own_fen, now)
        # Only a locked account other than the patient's own may pay here.
        if payer is not None and payer.account.id in locked and (
                own is None or payer.account.id != own.id):
            aid_fen = max(0, min(amount_fen - own_fen, payer.allowed_fen,
                                 locked[payer.account.id].balance_fen))
    cash_fen = amount_fen - own_fen - aid_fen
    if cash_fen and not allow_cash:
        raise fail("insufficient")

    settlement = Settlement(
        pharmacy_id=pharmacy.id, person_id=patient.id,
        holder_person_id=row.holder_person_id, binding_id=row.binding_id,
        staff_user_id=actor.user_id, actor_label=(actor.label or "")[:80],
        business_type=business_type, total_fen=amount_fen, account_fen=own_fen,
        aid_fen=aid_fen, aid_owner_person_id=payer.owner.id if aid_fen else None,
        cash_fen=cash_fen, items=items, created_at=now,
    )
    db.session.add(settlement)
    db.session.flush()
    row.settlement_id = settlement.id
    if own_fen:
        _debit(locked[own.id], own_fen, "payment", settlement, patient,
               f"{pharmacy.name}购药", now)
    if aid_fen:
        _debit(locked[payer.account.id], aid_fen, "aid_payment", settlement, patient,
               f"{mask_name(patient.name)}在{pharmacy.name}购药（家庭共济）", now)
    _notify(settlement, patient, pharmacy, payer if aid_fen else None)
    audit.record("settlement.create", actor, target=settlement, person=patient, detail={
        "pharmacy": pharmacy.code, "business_type": business_type, "total_fen": amount_fen,
        "account_fen": own_fen, "aid_fen": aid_fen, "cash_fen": cash_fen,
        "on_behalf": binding is not None,
    })
    db.session.commit()
    return settlement


def _debit(account: PersonalAccount, fen: int, kind: str, settlement: Settlement,
           beneficiary: InsuredPerson, memo: str, now: datetime) -> None:
    """Take ``fen`` from a locked account and write the ledger row with the balance after."""
    account.balance_fen -= fen
    db.session.add(LedgerEntry(
        account_id=account.id, amount_fen=-fen, balance_after_fen=account.balance_fen,
        kind=kind, memo=memo[:200], settlement_id=settlement.id,
        beneficiary_person_id=beneficiary.id, created_at=now,
    ))


def split_text(settlement: Settlement) -> str:
    """'个人账户¥20.00，现金¥3.50' — the non-zero parts of a payment."""
    parts = [("个人账户", settlement.account_fen), ("共济", settlement.aid_fen),
             ("现金", settlement.cash_fen)]
    return "，".join(f"{label}¥{yuan(fen)}" for label, fen in parts if fen)


def _notify(settlement: Settlement, patient: InsuredPerson, pharmacy: Pharmacy,
            payer: AidPayer | None) -> None:
    """Tell the patient, everyone who can show their code, and a 共济 owner who paid."""
    total = yuan(settlement.total_fen)
    messages.send(patient, "医保支付通知",
                  f"您在{pharmacy.name}支付¥{total}（{split_text(settlement)}）",
                  "payment", messages.page("records.index"))
    for binding in bindings_to(patient):
        messages.send(binding.holder, "家人医保支付通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}使用医保支付¥{total}",
                      "payment", messages.page("records.index", who=binding.public_id))
    if payer is not None and payer.owner.id != patient.id:
        messages.send(payer.owner, "家庭共济支付通知",
                      f"{mask_name(patient.name)}在{pharmacy.name}使用您的个人账户支付"
                      f"¥{yuan(settlement.aid_fen)}", "aid", messages.page("aid.spending"))
