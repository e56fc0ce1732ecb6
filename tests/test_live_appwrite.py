"""The live suite: the real sync client against a real Appwrite project (set up as backend/README.md says).

Runs only when the environment names a project and a test account; otherwise every test here is skipped, and
pytest reports them as skipped::

    APPWRITE_ENDPOINT=https://<region>.cloud.appwrite.io/v1 APPWRITE_PROJECT_ID=<id> \\
    APPWRITE_TEST_EMAIL=<account> APPWRITE_TEST_PASSWORD=<password> [APPWRITE_TEST_TEAM_ID=<team>] \\
    .venv/bin/pytest tests/test_live_appwrite.py

The account must be a member of the organisation's team with the role ``admin``. Each test makes new
installations (their own app databases in a temporary folder, the session in a keyring kept in memory) and new
rows with names unique to the run, so runs never collide; the rows stay in the project (synced rows are never
deleted: soft deletes only). ``tests/test_live_suite_runs.py`` runs this file against the Appwrite stand-in, so
the suite itself is known to work before anyone points it at a real server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from appwrite.services.account import Account

from core.context import ServiceContext
from core.patients.records import PatientDetails, create_patient, update_patient
from core.storage.database import Database, open_database
from core.users.roles import Role
from core.users.service import NewUser, create_first_admin
from sync.appwrite_api import session_client
from sync.connection import read_server_settings, session_secret
from sync.connection import sign_in as server_sign_in
from sync.engine import SyncEngine, SyncReport, SyncState
from sync.inbox import open_items, restore
from tests.fakes.memory_keyring import MemoryKeyring

LIVE_VARIABLES = ("APPWRITE_ENDPOINT", "APPWRITE_PROJECT_ID", "APPWRITE_TEST_EMAIL", "APPWRITE_TEST_PASSWORD")
MISSING = [name for name in LIVE_VARIABLES if not os.environ.get(name)]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"live Appwrite suite: set {', '.join(MISSING)} to run it against a real project"
)
PASSWORD = "live suite password 1"


@dataclass
class Installation:
    name: str
    database: Database
    engine: SyncEngine
    admin: ServiceContext

    def sync(self) -> SyncReport:
        report = self.engine.sync_now()
        status = self.engine.status
        assert report is not None, f"{self.name}: {status.state}: {status.detail}"
        assert status.state is SyncState.UP_TO_DATE, f"{self.name}: {status.state}: {status.detail}"
        return report


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def installations(memory_keyring: MemoryKeyring, tmp_path: Path, run_id: str) -> Iterator[dict[str, Installation]]:
    """The installations a test made (with ``install``), closed after it."""
    made: dict[str, Installation] = {}
    yield made
    for installation in made.values():
        installation.database.close()


def install(made: dict[str, Installation], tmp_path: Path, run_id: str, name: str) -> Installation:
    """A new workstation: its own app database and first admin, signed in to the project as the test account."""
    workstation = f"live-{run_id}-{name}"
    database = open_database(tmp_path / workstation / "rxdesk.sqlite")
    admin = create_first_admin(
        database, NewUser(f"admin-{name}-{run_id}", f"Admin {name}", Role.ADMIN, PASSWORD), workstation
    )
    server_sign_in(
        database,
        os.environ["APPWRITE_ENDPOINT"],
        os.environ["APPWRITE_PROJECT_ID"],
        os.environ["APPWRITE_TEST_EMAIL"],
        os.environ["APPWRITE_TEST_PASSWORD"],
        team=os.environ.get("APPWRITE_TEST_TEAM_ID") or None,
    )
    made[name] = Installation(name, database, SyncEngine(database), admin)
    return made[name]


def _family(run_id: str) -> str:
    """A family name unique to the run (names hold no digits)."""
    return "Live" + run_id.translate(str.maketrans("0123456789", "ghijklmnop"))


def _details(family: str, phone: str, address: str = "3 Park Row\nLeeds") -> PatientDetails:
    return PatientDetails("Alice", family, date(1970, 5, 17), address=address, postcode="LS1 5AB", phone=phone)


def _patient_row(installation: Installation, patient_id: str) -> dict[str, object]:
    from sqlalchemy import select

    from core.storage.models import Patient

    with installation.database.reader() as session:
        patient = session.execute(select(Patient).where(Patient.id == patient_id)).scalar_one_or_none()
        assert patient is not None, f"{installation.name} does not have patient {patient_id}"
        return {"family_name": patient.family_name, "phone": patient.phone, "address": patient.address}


def test_a_workstation_signs_in_and_syncs(installations: dict[str, Installation], tmp_path: Path, run_id: str) -> None:
    clinic = install(installations, tmp_path, run_id, "clinic")
    assert clinic.engine.refresh_status().state is not SyncState.NOT_CONNECTED
    report = clinic.sync()
    assert "rejected" not in report.pushed, report.pushed  # its first admin and organisation rows were taken
    assert clinic.sync().pushed == {}  # nothing left to send
    assert clinic.engine.status.last_sync is not None


def test_a_patient_registered_on_one_workstation_reaches_another_and_an_edit_comes_back(
    installations: dict[str, Installation], tmp_path: Path, run_id: str
) -> None:
    clinic = install(installations, tmp_path, run_id, "clinic")
    family = _family(run_id)
    patient_id = create_patient(clinic.admin, _details(family, "0113 496 0111")).id
    assert clinic.sync().pushed.get("applied", 0) > 0
    reception = install(installations, tmp_path, run_id, "reception")
    reception.sync()
    assert _patient_row(reception, patient_id)["family_name"] == family

    update_patient(reception.admin, patient_id, _details(family, "0113 496 0222"))
    reception.sync()
    clinic.sync()
    assert _patient_row(clinic, patient_id)["phone"] == "01134960222"


def test_the_same_field_changed_on_two_workstations_is_a_conflict_offered_back(
    installations: dict[str, Installation], tmp_path: Path, run_id: str
) -> None:
    clinic = install(installations, tmp_path, run_id, "clinic")
    family = _family(run_id)
    patient_id = create_patient(clinic.admin, _details(family, "0113 496 0111")).id
    clinic.sync()
    reception = install(installations, tmp_path, run_id, "reception")
    reception.sync()

    update_patient(clinic.admin, patient_id, _details(family, "0113 496 0222"))  # reaches the server first
    update_patient(reception.admin, patient_id, _details(family, "0113 496 0333", address="9 New Road\nLeeds"))
    clinic.sync()
    report = reception.sync()
    assert report.pushed.get("conflict") == 1, report.pushed
    [item] = open_items(reception.admin)
    assert item.kind == "conflict" and item.restorable and "phone" in item.reason
    here = _patient_row(reception, patient_id)
    assert here["phone"] == "01134960222" and here["address"] == "9 New Road\nLeeds"

    restore(reception.admin, item.id)
    reception.sync()
    clinic.sync()
    assert _patient_row(clinic, patient_id)["phone"] == "01134960333"
    assert open_items(reception.admin) == []


def test_a_session_ended_on_the_server_pauses_sync_and_loses_nothing(
    installations: dict[str, Installation], tmp_path: Path, run_id: str
) -> None:
    clinic = install(installations, tmp_path, run_id, "clinic")
    clinic.sync()
    settings = read_server_settings(clinic.database)
    assert settings is not None
    secret = session_secret(settings)
    assert secret is not None
    Account(session_client(settings.endpoint, settings.project, secret)).delete_session("current")

    patient_id = create_patient(clinic.admin, _details(_family(run_id), "0113 496 0111")).id
    assert clinic.engine.sync_now() is None
    assert clinic.engine.status.state is SyncState.NEEDS_SIGN_IN
    assert clinic.engine.status.pending > 0  # the patient waits; local work goes on

    server_sign_in(
        clinic.database,
        os.environ["APPWRITE_ENDPOINT"],
        os.environ["APPWRITE_PROJECT_ID"],
        os.environ["APPWRITE_TEST_EMAIL"],
        os.environ["APPWRITE_TEST_PASSWORD"],
        team=os.environ.get("APPWRITE_TEST_TEAM_ID") or None,
    )
    clinic.engine.refresh_status()
    clinic.sync()
    other = install(installations, tmp_path, run_id, "other")
    other.sync()
    assert _patient_row(other, patient_id)["phone"] == "01134960111"
