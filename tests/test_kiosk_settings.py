"""The kiosk's settings and leaving it (core.kiosk): admins only, audited, safe defaults."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.errors import PermissionDenied, ValidationError
from core.kiosk import (
    KIOSK_SETTING,
    KioskSettings,
    KioskWorkspace,
    configure_kiosk,
    kiosk_settings,
    record_kiosk_exit,
)
from core.settings import write_setting
from core.storage.models import AuditEvent
from tests.clinic import Clinic


def audit_actions(clinic: Clinic, prefix: str) -> list[tuple[str, str]]:
    with clinic.database.reader() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.user_id).where(AuditEvent.action.startswith(prefix))
        ).tuples()
        return list(rows)


def test_defaults_then_an_admin_configures_the_kiosk(clinic: Clinic) -> None:
    assert kiosk_settings(clinic.database) == KioskSettings(KioskWorkspace.COUNTER, 5)
    after = configure_kiosk(clinic.admin, workspace="Patients", idle_lock_minutes=2)
    assert after == KioskSettings(KioskWorkspace.PATIENTS, 2) == kiosk_settings(clinic.database)
    assert configure_kiosk(clinic.admin, idle_lock_minutes=10).workspace is KioskWorkspace.PATIENTS  # kept
    assert audit_actions(clinic, "kiosk.") == [("kiosk.configure", clinic.admin.actor.user_id)] * 2
    with pytest.raises(ValidationError, match="not a kiosk workspace"):
        configure_kiosk(clinic.admin, workspace="prescribe")
    with pytest.raises(ValidationError, match="1 to 120"):
        configure_kiosk(clinic.admin, idle_lock_minutes=0)
    with pytest.raises(PermissionDenied):
        configure_kiosk(clinic.pharmacist, idle_lock_minutes=60)
    assert kiosk_settings(clinic.database).idle_lock_minutes == 10


def test_unusable_stored_values_fall_back_to_the_defaults(clinic: Clinic) -> None:
    with clinic.database.transaction() as session:
        write_setting(session, KIOSK_SETTING, {"workspace": "nowhere", "idle_lock_minutes": "soon"})
    assert kiosk_settings(clinic.database) == KioskSettings()


def test_only_an_admin_lets_the_kiosk_go_and_it_is_audited(clinic: Clinic) -> None:
    for user in (clinic.pharmacist, clinic.technician, clinic.prescriber):
        with pytest.raises(PermissionDenied, match="Only an admin can leave the kiosk"):
            record_kiosk_exit(user)
    assert audit_actions(clinic, "kiosk.exit") == []
    record_kiosk_exit(clinic.admin)
    assert audit_actions(clinic, "kiosk.exit") == [("kiosk.exit", clinic.admin.actor.user_id)]
