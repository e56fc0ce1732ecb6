"""ORM models of the app database, one module per concept; importing this package registers them all."""

from core.storage.models.audit import AuditEvent
from core.storage.models.base import Base
from core.storage.models.cd_register import CdRegisterEntry
from core.storage.models.dispensing import Dispensing, DispensingLine, Owing
from core.storage.models.organisation import Organisation
from core.storage.models.outbox import OutboxEntry
from core.storage.models.patient import Allergy, Patient
from core.storage.models.prescription import Prescription, PrescriptionItem, RuleOverride
from core.storage.models.setting import Setting
from core.storage.models.sync_state import SyncInboxItem, SyncShadow, SyncWatermark
from core.storage.models.tokens import LedgerEntry, TokenAccount
from core.storage.models.user import User

__all__ = [
    "Allergy",
    "AuditEvent",
    "Base",
    "CdRegisterEntry",
    "Dispensing",
    "DispensingLine",
    "LedgerEntry",
    "Organisation",
    "OutboxEntry",
    "Owing",
    "Patient",
    "Prescription",
    "PrescriptionItem",
    "RuleOverride",
    "Setting",
    "SyncInboxItem",
    "SyncShadow",
    "SyncWatermark",
    "TokenAccount",
    "User",
]
