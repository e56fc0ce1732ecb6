"""The demo installation a fresh RxDesk starts with: a clinic and a pharmacy, one user of each role, a funded token
pool and a few patients, so every workspace can be tried at once, offline. Made only on an empty app database;
its credentials are public (shown on the sign-in screen), so it is marked as a demo and a real installation
replaces it (``rxdesk setup`` on a new data folder)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from core.patients.records import PatientDetails, create_patient
from core.settings import read_setting, write_setting
from core.storage.database import Database
from core.storage.models import User
from core.storage.models.organisation import OrganisationKind
from core.tokens.ledger import add_credit, create_account
from core.users.roles import PrescriberType, Role
from core.users.service import NewUser, create_first_admin, create_organisation, create_user

DEMO_SETTING = "demo_installation"
DEMO_PASSWORD = "demo-password"
DEMO_PIN = "1234"


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: Role


DEMO_USERS = (
    DemoUser("admin", "Alex Admin", Role.ADMIN),
    DemoUser("doctor", "Dr Dana Doctor", Role.PRESCRIBER),
    DemoUser("pharmacist", "Pat Pharmacist", Role.PHARMACIST),
    DemoUser("technician", "Terry Technician", Role.TECHNICIAN),
)
DEMO_PATIENTS = (
    PatientDetails("Alice", "Jones", date(1958, 4, 2), "9434765919", address="3 Park Row\nLeeds", postcode="LS1 5AB"),
    PatientDetails(
        "Bilal", "Khan", date(1987, 11, 23), "4010232137", address="14 Mill Lane\nLeeds", postcode="LS6 2AB"
    ),
    PatientDetails("Ceri", "Evans", date(2012, 7, 9), address="8 Hill Top\nLeeds", postcode="LS7 3DX"),
)


def is_demo_installation(database: Database) -> bool:
    with database.reader() as session:
        return bool(read_setting(session, DEMO_SETTING, False))


def ensure_demo_installation(database: Database) -> bool:
    """Create the demo installation if the database has no users yet. True when it was created now."""
    with database.reader() as session:
        if session.execute(select(func.count()).select_from(User)).scalar_one():
            return False
    workstation = socket.gethostname()
    first = DEMO_USERS[0]
    admin = create_first_admin(
        database, NewUser(first.username, first.full_name, first.role, DEMO_PASSWORD), workstation
    )
    clinic = create_organisation(
        admin, OrganisationKind.CLINIC, "Demo Surgery", "1 High Street\nLeeds", "LS1 4AP", "0113 496 0000"
    )
    pharmacy = create_organisation(
        admin, OrganisationKind.PHARMACY, "Demo Pharmacy", "22 Kirkgate\nLeeds", "LS2 7DJ", "0113 496 0101"
    )
    for user in DEMO_USERS[1:]:
        prescriber = user.role is Role.PRESCRIBER
        create_user(
            admin,
            NewUser(
                username=user.username,
                full_name=user.full_name,
                role=user.role,
                password=DEMO_PASSWORD,
                pin=DEMO_PIN,
                prescriber_type=PrescriberType.DOCTOR if prescriber else None,
                registration_number="7654321" if prescriber else None,
                organisation_id=clinic.id if prescriber else pharmacy.id,
            ),
        )
    pool = create_account(admin, "organisation", clinic.id, overdraft_limit=50)
    add_credit(admin, pool.id, 1000, "Demo tokens")
    for patient in DEMO_PATIENTS:
        create_patient(admin, patient)
    with database.transaction() as session:
        write_setting(session, DEMO_SETTING, True)
    return True
