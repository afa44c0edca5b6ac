"""All models, one module per aggregate, re-exported here."""

from webapp.models.account import ROLES, Pharmacy, User
from webapp.models.aid import AID_MEMBER_STATUSES, AID_OPEN_STATUSES, AidGroup, AidMember
from webapp.models.api_key import ApiKey
from webapp.models.audit import AuditLog
from webapp.models.codes import InsuranceCode
from webapp.models.face import FaceCheck
from webapp.models.kinship import (
    BINDING_STATUSES,
    OPEN_STATUSES,
    CommitmentLetter,
    Invitation,
    KinshipBinding,
    KinshipMaterial,
)
from webapp.models.ledger import LedgerEntry, PersonalAccount
from webapp.models.message import Message
from webapp.models.registry import INSURANCE_TYPES, INSURED_STATUSES, InsuredPerson
from webapp.models.settlement import Settlement

__all__ = [
    "ROLES",
    "AID_MEMBER_STATUSES",
    "AID_OPEN_STATUSES",
    "AidGroup",
    "AidMember",
    "INSURANCE_TYPES",
    "INSURED_STATUSES",
    "BINDING_STATUSES",
    "OPEN_STATUSES",
    "ApiKey",
    "AuditLog",
    "CommitmentLetter",
    "Invitation",
    "KinshipBinding",
    "KinshipMaterial",
    "FaceCheck",
    "InsuranceCode",
    "InsuredPerson",
    "LedgerEntry",
    "Message",
    "PersonalAccount",
    "Pharmacy",
    "Settlement",
    "User",
]
