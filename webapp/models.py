"""All models, one module per aggregate, re-exported here."""

from webapp.accounts.models import ROLES, Pharmacy, User
from webapp.aid.models import AidGroup, AidMember
from webapp.api.models import ApiKey
from webapp.audit.models import AuditLog
from webapp.codes.models import InsuranceCode, Settlement
from webapp.codes.reconciliation import Reconciliation
from webapp.face.models import FaceCheck
from webapp.invitations.models import Invitation
from webapp.kinship.models import CommitmentLetter, KinshipBinding, KinshipMaterial
from webapp.ledger.models import LedgerEntry, PersonalAccount
from webapp.messages.models import Message
from webapp.registry.models import INSURANCE_TYPES, INSURED_STATUSES, InsuredPerson

__all__ = [
    "ROLES",
    "AidGroup",
    "AidMember",
    "INSURANCE_TYPES",
    "INSURED_STATUSES",
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
    "Reconciliation",
    "Pharmacy",
    "Settlement",
    "User",
]
