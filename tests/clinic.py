"""A small installation for clinical tests: an app database, a clinic and a pharmacy, one user of each role."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.context import ServiceContext
from core.storage.database import Database, open_database
from core.storage.models import Organisation
from core.storage.models.organisation import OrganisationKind
from core.users.roles import PrescriberType, Role
from core.users.service import NewUser, create_first_admin, create_organisation, create_user, sign_in

WORKSTATION = "test-ws"
PASSWORD = "correct horse battery"
PRESCRIBER_PIN = "2468"


class TestClock:
    """A clock tests move by hand (validity periods, owings expiry)."""

    __test__ = False

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Clinic:
    database: Database
    clock: TestClock
    admin: ServiceContext
    prescriber: ServiceContext
    pharmacist: ServiceContext
    technician: ServiceContext
    clinic: Organisation
    pharmacy: Organisation


def make_clinic(path: Path) -> Clinic:
    clock = TestClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    database = open_database(path)
    admin = create_first_admin(database, NewUser("admin", "Ada Admin", Role.ADMIN, PASSWORD), WORKSTATION)
    admin.clock = clock
    clinic = create_organisation(
        admin, OrganisationKind.CLINIC, "Riverside Surgery", "1 High Street\nLeeds", "LS1 4AP", "0113 496 0000"
    )
    pharmacy = create_organisation(
        admin, OrganisationKind.PHARMACY, "Kirkgate Pharmacy", "22 Kirkgate\nLeeds", "LS2 7DJ", "0113 496 0101"
    )
    users = [
        NewUser(
            "drsmith",
            "Dr Jane Smith",
            Role.PRESCRIBER,
            PASSWORD,
            pin=PRESCRIBER_PIN,
            prescriber_type=PrescriberType.DOCTOR,
            registration_number="1234567",
            organisation_id=clinic.id,
        ),
        NewUser("pharm", "Priya Patel", Role.PHARMACIST, PASSWORD, pin="1357", organisation_id=pharmacy.id),
        NewUser("tech", "Tom Turner", Role.TECHNICIAN, PASSWORD, organisation_id=pharmacy.id),
    ]
    for new in users:
        create_user(admin, new)
    contexts = [sign_in(database, new.username, PASSWORD, WORKSTATION, clock) for new in users]
    return Clinic(database, clock, admin, *contexts, clinic=clinic, pharmacy=pharmacy)


def copy_clinic(template: Clinic, path: Path) -> Clinic:
    """A fresh installation copied from a closed template: making one hashes four passwords, a copy is instant."""
    shutil.copyfile(template.database.path, path)
    database = open_database(path)
    clock = TestClock(template.clock.current)
    contexts = [
        replace(ctx, database=database, clock=clock)
        for ctx in (template.admin, template.prescriber, template.pharmacist, template.technician)
    ]
    return Clinic(database, clock, *contexts, clinic=template.clinic, pharmacy=template.pharmacy)
