"""医保码: issuing short-lived single-use codes, their QR as SVG, status polling, purging.

A code is an opaque short string (``CODE_LENGTH`` characters from an unambiguous uppercase
alphabet: 90 bits of randomness) that carries no personal data. Uppercase letters and digits
only, so the QR uses alphanumeric mode and stays at version 1 (21×21 modules). Only its
SHA-256 is stored. Its validity and refresh interval come from the policy of the patient's
insured region.

Who may get a code: the person themselves (subject ``"me"``) and holders of an 已绑定 binding
(subject = the binding's public id). An ended binding stops the next refresh.

Audit: a code issued *for a relative* is audited ('code.issued_for_relative'); one's own
code is not (it is refreshed every minute while the page is open and would flood the trail).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import cast

from markupsafe import Markup
from sqlalchemy import Insert, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import joinedload

from webapp import clock, qr, readonly
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.codes import polling
from webapp.domain import Forbidden, NotFound
from webapp.extensions import db
from webapp.kinship.states import BindingStatus
from webapp.masking import mask_name
from webapp.models import (
    InsuranceCode,
    InsuredPerson,
    KinshipBinding,
    Settlement,
    User,
)
from webapp.policy import policy_for, relation_label

# No 0/O, 1/I: a person can read the code aloud or type it without confusion.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 18  # 18 × 5 bits = 90 bits
# Codes expired longer ago than this are deleted by the scheduled purge (`flask housekeeping`,
# `flask codes purge`). Issuing does not purge: the bench at 1 M people found the refresh 1.39×
# slower than at 2 000 when one issue in ten also deleted a batch of a large backlog.
PURGE_AFTER = timedelta(hours=1)

ME = "me"
# What a relation code makes a person, as a word: (male, female). A binding's ``relation``
# says what the member is to the holder ('child': the member is the holder's child); the
# member is then called MEMBER_WORDS[relation] and the holder HOLDER_WORDS[relation].
MEMBER_WORDS = {
    "child": ("儿子", "女儿"),
    "parent": ("父亲", "母亲"),
    "spouse": ("丈夫", "妻子"),
    "grandparent": ("祖父/外祖父", "祖母/外祖母"),
    "grandchild": ("孙子/外孙", "孙女/外孙女"),
    "guardian": ("被监护人", "被监护人"),
}
HOLDER_WORDS = {
    "child": ("父亲", "母亲"),
    "parent": ("儿子", "女儿"),
    "spouse": ("丈夫", "妻子"),
    "grandparent": ("孙子/外孙", "孙女/外孙女"),
    "grandchild": ("祖父/外祖父", "祖母/外祖母"),
    "guardian": ("法定监护人", "法定监护人"),
}
BINDING_ENDED = "绑定已解除，无法继续出示"


@dataclass(frozen=True)
class Subject:
    """Whose code the user shows: themselves, or a relative through an 已绑定 binding."""

    key: str  # "me" or the binding's public id
    person: InsuredPerson
    binding: KinshipBinding | None = None

    @property
    def on_behalf(self) -> bool:
        """Whether the code is shown on someone else's behalf."""
        return self.binding is not None

    @property
    def kin(self) -> str:
        """The relative as the holder calls them: 儿子, 母亲 … ('' for oneself)."""
        if self.binding is None:
            return ""
        return member_kin_word(self.binding)

    @property
    def banner(self) -> str:
        """'代 张*明（儿子）出示' on behalf of a relative, '' for oneself."""
        if self.binding is None:
            return ""
        return f"代 {mask_name(self.person.name)}（{self.kin}）出示"


@dataclass(frozen=True)
class IssuedCode:
    """A freshly issued code (the clear text exists only here, never in the database)."""

    code: str
    expires_at: datetime
    refresh_seconds: int
    valid_seconds: int
    # The page's payment-status poll authenticates with this (webapp/codes/polling.py).
    poll_token: str = ""

    @property
    def display(self) -> str:
        """The code grouped for reading aloud / typing: 'ABCDEF GHJKLM NPQRST'."""
        return " ".join(self.code[i:i + 6] for i in range(0, len(self.code), 6))

    def as_json(self) -> dict:
        """The refresh endpoint's body."""
        return {
            "code": self.code,
            "display": self.display,
            "svg": str(qr_svg(self.code)),
            "expires_in": self.valid_seconds,
            "refresh_in": self.refresh_seconds,
            "poll_token": self.poll_token,
        }


def is_male(person: InsuredPerson) -> bool:
    """Whether the registry says the person is male."""
    return str(person.gender).lower() in ("男", "m", "male", "1")


def _word(table: dict, relation: str, person: InsuredPerson, other: InsuredPerson) -> str:
    if relation == "sibling":
        older = person.birth_date < other.birth_date
        if is_male(person):
            return "哥哥" if older else "弟弟"
        return "姐姐" if older else "妹妹"
    words = table.get(relation)
    if words:
        return words[0] if is_male(person) else words[1]
    return relation_label(relation)


def member_kin_word(binding: KinshipBinding) -> str:
    """What the member is to the holder: the holder's child, male → 儿子."""
    return _word(MEMBER_WORDS, binding.relation, binding.member, binding.holder)


def holder_kin_word(binding: KinshipBinding) -> str:
    """What the holder is to the member: the member is the holder's child → 父亲/母亲."""
    return _word(HOLDER_WORDS, binding.relation, binding.holder, binding.member)


def hash_code(code: str) -> str:
    """SHA-256 hex of a (normalised) code; what the database stores and looks up."""
    return hashlib.sha256(code.encode("ascii", "ignore")).hexdigest()


def normalize(text: str | None) -> str:
    """A typed or scanned code in canonical form: uppercase, without spaces and dashes."""
    text = (text or "").strip().upper()
    return "".join(ch for ch in text if ch not in " -\t\r\n")[:64]


def new_code_string() -> str:
    """A fresh random code: CODE_LENGTH × 5 random bits, one alphabet letter per 5 bits."""
    bits = secrets.randbits(5 * CODE_LENGTH)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(CODE_LENGTH))


def resolve_subject(holder: InsuredPerson, key: str) -> Subject:
    """The person ``holder`` may show under ``key`` (404 for anything not theirs; 403 ended)."""
    if key == ME:
        return Subject(ME, holder, None)
    binding = db.session.scalar(
        select(KinshipBinding).options(joinedload(KinshipBinding.member)).where(
            KinshipBinding.public_id == key, KinshipBinding.holder_person_id == holder.id
        )
    )
    if binding is None or binding.status not in (BindingStatus.ACTIVE, BindingStatus.ENDED):
        raise NotFound("未找到该家庭成员", code="unknown_subject")
    if binding.status != BindingStatus.ACTIVE:
        raise Forbidden(BINDING_ENDED, code="binding_ended")
    return Subject(key, binding.member, binding)


def code_rules(person: InsuredPerson):
    """The 医保码 rules (refresh_seconds, valid_seconds) for the patient's insured region."""
    return policy_for(person.region_code).code


def codes_to_watch(rules) -> int:
    """How many of a page's latest codes can still end in a payment, so that the page keeps
    and the status poll looks at that many: a code lives ``valid_seconds``, its settlement
    token (verify → settle) ``token_seconds`` more, and the page takes one per refresh."""
    from webapp.codes.settlement import token_seconds  # settlement imports this module

    return math.ceil((rules.valid_seconds + token_seconds()) / rules.refresh_seconds) + 1


def issue_code(user: User, key: str, actor: Actor) -> IssuedCode:
    """Issue a fresh code for the user's subject ``key`` and commit (one INSERT; old codes
    are left to the scheduled purge)."""
    if user.person is None:
        raise Forbidden("仅参保人本人可以出示医保码", code="forbidden")
    subject = resolve_subject(user.person, key)
    rules = code_rules(subject.person)
    now = clock.now()
    expires_at = now + timedelta(seconds=rules.valid_seconds)
    code = new_code_string()
    if subject.on_behalf:
        readonly.transaction_from_here()  # the code and its audit row: atomic together
    # A plain INSERT (no unit-of-work flush): this runs once a minute for every open code page.
    db.session.connection().execute(_insert_code(), {
        "code_hash": hash_code(code),
        "person_id": subject.person.id,
        "holder_person_id": user.person.id if subject.on_behalf else None,
        "binding_id": subject.binding.id if subject.binding else None,
        "issued_by_user_id": user.id,
        "created_at": now,
        "expires_at": expires_at,
    })
    if subject.on_behalf:
        audit.record("code.issued_for_relative", actor, target=subject.binding,
                     person=subject.person)
    commit_keeping_loaded()
    return IssuedCode(code, expires_at, rules.refresh_seconds, rules.valid_seconds,
                      poll_token_for(user, subject, rules))


def poll_token_for(user: User, subject: Subject, rules) -> str:
    """The poll token that comes with a code: this user's codes for this patient, as many as
    the page watches, until the code just issued can no longer end in a payment."""
    from webapp.codes.settlement import token_seconds  # settlement imports this module

    return polling.issue(user.id, subject.person.id, subject.key, codes_to_watch(rules),
                         rules.valid_seconds + token_seconds())


@cache
def _insert_code() -> Insert:
    """The code's INSERT, built once (its values come as parameters)."""
    table = cast(Table, InsuranceCode.__table__)
    return insert(table).values({name: bindparam(name) for name in (
        "code_hash", "person_id", "holder_person_id", "binding_id", "issued_by_user_id",
        "created_at", "expires_at")})


def commit_keeping_loaded() -> None:
    """Commit without expiring what the request has loaded (the user, the person, the
    binding): nothing of them changed, and the page or the access log would otherwise reload
    each one with a SELECT after the commit."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def revoke_issued_by(user_id: int) -> int:
    """End every unused code (and settlement token) this user issued: 注销账户. Not committed."""
    now = clock.now()
    result = db.session.execute(
        update(InsuranceCode)
        .where(InsuranceCode.issued_by_user_id == user_id, InsuranceCode.used_at.is_(None),
               or_(InsuranceCode.expires_at > now, InsuranceCode.token_expires_at > now))
        .values(expires_at=now, token_expires_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(limit: int | None = None, commit: bool = True) -> int:
    """Delete codes that expired more than PURGE_AFTER ago (at most ``limit``); how many."""
    cutoff = clock.now() - PURGE_AFTER
    ids = select(InsuranceCode.id).where(InsuranceCode.expires_at < cutoff)
    if limit is not None:
        # Oldest first along the expires_at index (ordering by id would scan the table).
        ids = ids.order_by(InsuranceCode.expires_at).limit(limit)
        if db.session.get_bind().dialect.name == "postgresql":
            # Concurrent purgers skip each other's rows instead of waiting or deadlocking.
            ids = ids.with_for_update(skip_locked=True)
    ids_list = list(db.session.scalars(ids).all())
    if not ids_list:
        return 0
    db.session.execute(
        delete(InsuranceCode).where(InsuranceCode.id.in_(ids_list)),
        execution_options={"synchronize_session": False},
    )
    if commit:
        db.session.commit()
    return len(ids_list)


def qr_svg(code: str) -> Markup:
    """The QR of a code as inline SVG (version 1, fixed mask: it is drawn every minute)."""
    return qr.qr_svg(code, "医保码二维码", fast=True)


def settlement_of_pharmacy(public_id: str, pharmacy_id: int) -> Settlement | None:
    """The pharmacy's own settlement of that public id (None for a missing or foreign one)."""
    return db.session.scalar(select(Settlement).where(
        Settlement.public_id == public_id, Settlement.pharmacy_id == pharmacy_id))
