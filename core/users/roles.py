"""Roles and what each may do: one table, checked by every service function through ``require``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from core.errors import PermissionDenied

if TYPE_CHECKING:
    from core.context import ServiceContext


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    PHARMACIST = "pharmacist"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class PrescriberType(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    DENTIST = "dentist"
    PHARMACIST_PRESCRIBER = "pharmacist prescriber"


class Permission(StrEnum):
    MANAGE_USERS = "manage users and organisations"
    VIEW_PATIENTS = "view patients"
    EDIT_PATIENTS = "register and edit patients"
    RECORD_ALLERGIES = "record allergies"
    IMPORT_PATIENTS = "import patients"
    PRESCRIBE = "write and sign prescriptions"
    CANCEL_PRESCRIPTIONS = "cancel prescriptions"
    VIEW_PRESCRIPTIONS = "view prescriptions"
    DISPENSE = "dispense"
    ASSEMBLE = "scan and check packs"
    CD_REGISTER = "keep the controlled drugs register"
    MANAGE_TOKENS = "manage token accounts"
    VIEW_TOKENS = "view token balances"
    VIEW_AUDIT = "view the audit log"
    MANAGE_CATALOGUE = "install medicines catalogue releases"


_P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PRESCRIBER: frozenset(
        {
            _P.VIEW_PATIENTS,
            _P.EDIT_PATIENTS,
            _P.RECORD_ALLERGIES,
            _P.PRESCRIBE,
            _P.CANCEL_PRESCRIPTIONS,
            _P.VIEW_PRESCRIPTIONS,
            _P.VIEW_TOKENS,
        }
    ),
    Role.PHARMACIST: frozenset(
        {
            _P.VIEW_PATIENTS,
            _P.EDIT_PATIENTS,
            _P.RECORD_ALLERGIES,
            _P.VIEW_PRESCRIPTIONS,
            _P.DISPENSE,
            _P.ASSEMBLE,
            _P.CD_REGISTER,
        }
    ),
    # A technician assembles and checks packs; the supply itself is the pharmacist's.
    Role.TECHNICIAN: frozenset({_P.VIEW_PATIENTS, _P.VIEW_PRESCRIPTIONS, _P.ASSEMBLE}),
    Role.ADMIN: frozenset(
        {
            _P.MANAGE_USERS,
            _P.VIEW_PATIENTS,
            _P.EDIT_PATIENTS,
            _P.IMPORT_PATIENTS,
            _P.MANAGE_TOKENS,
            _P.VIEW_TOKENS,
            _P.VIEW_AUDIT,
            _P.MANAGE_CATALOGUE,
        }
    ),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def require(ctx: ServiceContext, permission: Permission) -> None:
    """Raise PermissionDenied unless the signed-in user's role may do this."""
    if not allowed(ctx.actor.role, permission):
        raise PermissionDenied(f"A {ctx.actor.role.value} may not {permission.value}.")
