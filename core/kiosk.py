"""This workstation as a kiosk: the one workspace it shows, after how many idle minutes it locks, and leaving it.

The settings live in the workstation's app database (``core.settings``) because they guard the kiosk: only an
admin changes them, and each change is audited. They are read before anyone signs in (the kiosk's first screen
depends on them), as the workstation's name is. Leaving the kiosk (back to the desktop) is an admin's act, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import PermissionDenied, ValidationError
from core.settings import read_setting, write_setting
from core.storage.database import Database
from core.users.roles import Permission, allowed

KIOSK_SETTING = "kiosk"
DEFAULT_IDLE_LOCK_MINUTES = 5
MAX_IDLE_LOCK_MINUTES = 120
# Leaving the kiosk and changing how it runs are for whoever manages the installation: the admins.
KIOSK_PERMISSION = Permission.MANAGE_USERS


class KioskWorkspace(StrEnum):
    COUNTER = "counter"
    PATIENTS = "patients"
    MEDICINES = "medicines"


@dataclass(frozen=True)
class KioskSettings:
    workspace: KioskWorkspace = KioskWorkspace.COUNTER
    idle_lock_minutes: int = DEFAULT_IDLE_LOCK_MINUTES

    def as_dict(self) -> dict[str, object]:
        return {"workspace": self.workspace.value, "idle_lock_minutes": self.idle_lock_minutes}


def kiosk_workspace(value: str) -> KioskWorkspace:
    try:
        return KioskWorkspace(value.strip().lower())
    except ValueError:
        choices = ", ".join(w.value for w in KioskWorkspace)
        raise ValidationError(f"{value!r} is not a kiosk workspace: choose {choices}.") from None


def _minutes(value: int) -> int:
    if not 1 <= value <= MAX_IDLE_LOCK_MINUTES:
        raise ValidationError(f"The kiosk locks after 1 to {MAX_IDLE_LOCK_MINUTES} idle minutes.")
    return value


def kiosk_settings(database: Database) -> KioskSettings:
    """This workstation's kiosk settings; the defaults where none (or none usable) are stored."""
    with database.reader() as session:
        stored = read_setting(session, KIOSK_SETTING, {})
    defaults = KioskSettings()
    if not isinstance(stored, dict):
        return defaults
    try:
        workspace = kiosk_workspace(str(stored.get("workspace", defaults.workspace.value)))
    except ValidationError:
        workspace = defaults.workspace
    minutes = stored.get("idle_lock_minutes")
    usable = isinstance(minutes, int) and 1 <= minutes <= MAX_IDLE_LOCK_MINUTES
    return KioskSettings(workspace, minutes if usable and isinstance(minutes, int) else defaults.idle_lock_minutes)


def configure_kiosk(
    ctx: ServiceContext, *, workspace: str | None = None, idle_lock_minutes: int | None = None
) -> KioskSettings:
    """Change this workstation's kiosk (admins). Raises ValidationError for an unknown workspace or minutes."""
    _require_admin(ctx, "Only an admin can change how the kiosk runs.")
    before = kiosk_settings(ctx.database)
    after = KioskSettings(
        kiosk_workspace(workspace) if workspace is not None else before.workspace,
        _minutes(idle_lock_minutes) if idle_lock_minutes is not None else before.idle_lock_minutes,
    )
    with ctx.database.transaction() as session:
        write_setting(session, KIOSK_SETTING, after.as_dict())
        record_event(
            session, ctx, "kiosk.configure", "workstation", ctx.workstation,
            before=before.as_dict(), after=after.as_dict(),
        )  # fmt: skip
    return after


def _require_admin(ctx: ServiceContext, refusal: str) -> None:
    if not allowed(ctx.actor.role, KIOSK_PERMISSION):
        raise PermissionDenied(refusal)


def record_kiosk_exit(ctx: ServiceContext) -> None:
    """An admin lets this workstation leave the kiosk for the desktop: refused to anyone else, audited."""
    _require_admin(ctx, "Only an admin can leave the kiosk.")
    with ctx.database.transaction() as session:
        record_event(session, ctx, "kiosk.exit", "workstation", ctx.workstation)
