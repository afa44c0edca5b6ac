"""Test helpers for invitations and the 亲情账户 lifecycle: bindings made with the models,
invitations through the service, a login shortcut and a database snapshot."""

from __future__ import annotations

from sqlalchemy import select

from tests.helpers import binding, login, logout
from webapp.audit.services import Actor
from webapp.extensions import db
from webapp.invitations import services as invitations
from webapp.models import (
    AuditLog,
    FaceCheck,
    InsuredPerson,
    Invitation,
    KinshipBinding,
    Message,
)

__all__ = ["ACTOR", "audit_actions", "binding", "invited", "login", "logout", "snapshot", "titles"]

ACTOR = Actor(ip="127.0.0.1", user_agent="pytest", label="test")


def invited(holder: InsuredPerson, member: InsuredPerson,
            relation: str = "parent") -> tuple[KinshipBinding, Invitation, str]:
    """A 待确认 binding with its invitation, as the wizard leaves it: (binding, inv, token)."""
    row = binding(holder, member, relation=relation, status="pending_confirm")
    inv, token = invitations.create("kinship", row.id, holder, member, ACTOR)
    db.session.commit()
    return row, inv, token


def snapshot() -> dict:
    """Everything an invitation answer could change, for 'nothing changed' assertions."""
    db.session.expire_all()
    return {
        "invitations": [tuple(r) for r in db.session.execute(
            select(Invitation.id, Invitation.used_at, Invitation.outcome, Invitation.revoked_at,
                   Invitation.expires_at).order_by(Invitation.id))],
        "bindings": [tuple(r) for r in db.session.execute(
            select(KinshipBinding.id, KinshipBinding.status, KinshipBinding.bound_at,
                   KinshipBinding.ended_at, KinshipBinding.self_confirm_due,
                   KinshipBinding.version).order_by(KinshipBinding.id))],
        "messages": db.session.scalar(select(db.func.count(Message.id))),
        "audit": db.session.scalar(select(db.func.count(AuditLog.id))),
        "face": [tuple(r) for r in db.session.execute(
            select(FaceCheck.id, FaceCheck.result, FaceCheck.consumed_at).order_by(FaceCheck.id))],
    }


def titles(person: InsuredPerson) -> list[str]:
    """Message titles the person received, oldest first."""
    return list(db.session.scalars(
        select(Message.title).where(Message.recipient_person_id == person.id)
        .order_by(Message.id)))


def audit_actions() -> list[str]:
    """Audit actions in order."""
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
