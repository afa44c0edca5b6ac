"""Consents to the versioned documents (``webapp.accounts.documents``).

Registration needs the 用户协议 and the 隐私政策 (one tick) and, separately, the
人脸信息处理规则 (PIPL art. 29: a separate consent for sensitive personal information); their
versions travel with the pending registration and are stored (``Consent`` rows) in the
registration's transaction. A user who accepted an older version of a document is asked to
accept the current one after logging in. The face-data consent may be withdrawn: the face
check (needed to register, confirm bindings, open or join 家庭共济) is then not offered until
it is given again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select

from webapp import clock
from webapp.accounts import documents
from webapp.accounts.models import Consent, User
from webapp.accounts.states import FACE, PRIVACY, TERMS
from webapp.audit import services as audit
from webapp.audit.services import Actor
from webapp.domain import Conflict, DomainError, command
from webapp.extensions import db
from webapp.observability.requestlog import current_request_id

MSG_AGREE = "请阅读并勾选同意《用户协议》和《隐私政策》"
MSG_AGREE_FACE = ("注册需要通过人脸识别确认是您本人，请阅读并单独勾选同意《人脸信息处理规则》；"
                  "不同意将无法完成注册")
MSG_OUTDATED = "协议已更新，请重新阅读并勾选同意"
MSG_WRONG_PASSWORD = "密码错误"
MSG_FACE_WITHDRAWN = "您已撤回人脸信息处理的同意，无需重复操作"
MSG_FACE_ACTIVE = "您已同意人脸信息处理规则"
MSG_FACE_NEEDED = "您已撤回人脸信息处理的同意，该操作需要人脸识别；如需办理，请先重新同意"

# What registration needs, by the form field that ticks it.
REGISTRATION = {"agree": (TERMS, PRIVACY), "agree_face": (FACE,)}


def required_versions(agree: bool, agree_face: bool) -> dict[str, str]:
    """The versions a registration accepts; a missing tick is a field error."""
    if not agree:
        raise DomainError(MSG_AGREE, field="agree", code="consent_agree")
    if not agree_face:
        raise DomainError(MSG_AGREE_FACE, field="agree_face", code="consent_face")
    return documents.current_versions()


def check_current(versions: Mapping[str, str]) -> None:
    """Every registration document accepted, each in its current version (else re-agree)."""
    current = documents.current_versions()
    for field, kinds in REGISTRATION.items():
        for kind in kinds:
            if kind not in versions:
                message = MSG_AGREE if field == "agree" else MSG_AGREE_FACE
                raise DomainError(message, field=field, code=f"consent_{field}")
            if versions[kind] != current[kind]:
                raise DomainError(MSG_OUTDATED, field=field, code="consent_outdated")


def record(user: User, versions: Mapping[str, str], actor: Actor) -> list[Consent]:
    """Store one acceptance per document with its version and text hash, audited (no commit)."""
    now, rid = clock.now(), current_request_id() or ""
    rows = [Consent(user_id=user.id, kind=kind, version=version,
                    text_sha256=documents.text_sha256(kind, version), accepted_at=now,
                    request_id=rid[:64])
            for kind, version in sorted(versions.items())]
    db.session.add_all(rows)
    db.session.flush()
    audit.record("account.consent", actor, target=user, person=user.person,
                 detail={"versions": dict(sorted(versions.items()))})
    return rows


def latest(user: User) -> dict[str, Consent]:
    """kind → the user's most recent acceptance of that document."""
    rows = db.session.scalars(
        select(Consent).where(Consent.user_id == user.id).order_by(Consent.id))
    return {row.kind: row for row in rows}


def outdated(user: User) -> list[documents.Document]:
    """The documents the user accepted in an older version and must accept again.

    A withdrawn face-data consent is not asked again (the user chose); accounts made before
    consents were recorded have no rows and are not asked.
    """
    rows = latest(user)
    out = []
    for kind, doc in documents.DOCUMENTS.items():
        row = rows.get(kind)
        if doc.ask_again and row is not None and row.withdrawn_at is None \
                and row.version != doc.version:
            out.append(doc)
    return out


@command
def accept_current(user: User, kinds: Iterable[str], actor: Actor) -> list[Consent]:
    """Accept the current version of each document named that is out of date; committed."""
    due = {doc.kind: doc.version for doc in outdated(user)}
    wanted = {kind: due[kind] for kind in kinds if kind in due}
    if set(wanted) != set(due):
        raise DomainError(MSG_OUTDATED, field="agree", code="consent_outdated")
    rows = record(user, wanted, actor) if wanted else []
    db.session.commit()
    return rows


def face_allowed(user: User) -> bool:
    """Whether face checks may run for the user (no withdrawn face-data consent in force)."""
    row = latest(user).get(FACE)
    return row is None or row.withdrawn_at is None


@command
def withdraw_face(user: User, password: str, actor: Actor) -> Consent:
    """Withdraw the face-data consent (password required); audited, committed.

    Past face checks stay as records of the acts they authorised; no new one is offered.
    """
    if not user.check_password(password or ""):
        raise DomainError(MSG_WRONG_PASSWORD, field="password", code="wrong_password")
    row = latest(user).get(FACE)
    if row is not None and row.withdrawn_at is not None:
        raise Conflict(MSG_FACE_WITHDRAWN, code="already_withdrawn")
    if row is None:  # an account from before consents were recorded: record the refusal
        row = Consent(user_id=user.id, kind=FACE, version=documents.document(FACE).version,
                      text_sha256="", accepted_at=clock.now(),
                      request_id=(current_request_id() or "")[:64])
        db.session.add(row)
    row.withdrawn_at = clock.now()
    db.session.flush()
    audit.record("account.consent_withdrawn", actor, target=user, person=user.person,
                 detail={"kind": FACE, "version": row.version})
    db.session.commit()
    return row


@command
def give_face(user: User, actor: Actor) -> Consent:
    """Consent again to the current 人脸信息处理规则 after withdrawing; committed."""
    if face_allowed(user) and latest(user).get(FACE) is not None:
        raise Conflict(MSG_FACE_ACTIVE, code="already_given")
    doc = documents.document(FACE)
    (row,) = record(user, {FACE: doc.version}, actor)
    db.session.commit()
    return row
