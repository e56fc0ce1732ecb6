"""A clinic for the clinical benchmarks: app database, users, patients, a funded token pool, the demo catalogue.

Setup only: rows are written the quickest way, then the measured calls go through the service functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from core.context import ServiceContext
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from core.ids import new_id
from core.paths import demo_release
from core.storage.database import open_database
from core.storage.models import Patient
from core.storage.models.organisation import OrganisationKind
from core.tokens.ledger import add_credit, create_account
from core.users.roles import PrescriberType, Role
from core.users.service import NewUser, create_first_admin, create_organisation, create_user, sign_in

PASSWORD = "benchmark password"
PIN = "2468"


@dataclass
class BenchClinic:
    admin: ServiceContext
    prescriber: ServiceContext
    pharmacist: ServiceContext
    catalogue: Catalogue
    patient_ids: list[str]
    vmps: tuple[str, str, str]  # a plain medicine, a Schedule 2 and a Schedule 4 controlled drug
    pin: str = PIN
    extra: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.catalogue.close()
        self.admin.database.close()


def _vmp(catalogue: Catalogue, where: str) -> str:
    row = catalogue.conn.execute(
        "SELECT v.vpid FROM vmp v JOIN control_info c USING (vpid) JOIN dform USING (vpid) "
        "WHERE v.invalid IS NULL AND v.non_availcd IS NULL AND EXISTS "
        "(SELECT 1 FROM vpi WHERE vpi.vpid = v.vpid AND vpi.strnt_nmrtr_val IS NOT NULL) "
        f"AND {where} ORDER BY v.vpid LIMIT 1"
    ).fetchone()
    return str(row[0])


def make_bench_clinic(folder: Path, patients: int) -> BenchClinic:
    main, bonus = demo_release()
    build_replica(folder / "dmd.sqlite", main, bonus, parallel=False)
    catalogue = Catalogue(folder / "dmd.sqlite")
    database = open_database(folder / "rxdesk.sqlite")
    admin = create_first_admin(database, NewUser("admin", "Bench Admin", Role.ADMIN, PASSWORD), "bench")
    clinic = create_organisation(admin, OrganisationKind.CLINIC, "Bench Surgery", "1 Bench St\nLeeds", "LS1 4AP",
                                 "0113 496 0000")  # fmt: skip
    pharmacy = create_organisation(admin, OrganisationKind.PHARMACY, "Bench Pharmacy", "2 Bench St\nLeeds",
                                   "LS1 4AP", "0113 496 0001")  # fmt: skip
    create_user(admin, NewUser("doctor", "Dr Bench", Role.PRESCRIBER, PASSWORD, pin=PIN,
                               prescriber_type=PrescriberType.DOCTOR, registration_number="1234567",
                               organisation_id=clinic.id))  # fmt: skip
    create_user(admin, NewUser("pharmacist", "Bench Pharmacist", Role.PHARMACIST, PASSWORD, pin="1357",
                               organisation_id=pharmacy.id))  # fmt: skip
    pool = create_account(admin, "organisation", clinic.id)
    add_credit(admin, pool.id, 10_000_000, "Benchmark balance")
    now = datetime.now(UTC)
    rows = [
        Patient(
            id=new_id(), organisation_id=clinic.id, given_name=f"Given{i}", family_name=f"Family{i}",
            date_of_birth=date(1950 + i % 50, 1 + i % 12, 1 + i % 28), address=f"{i} Long Lane\nLeeds",
            postcode="LS6 2AB", family_key=f"family{i}", given_key=f"given{i}", postcode_key="LS62AB",
            created_at=now, updated_at=now,
        )
        for i in range(patients)
    ]  # fmt: skip
    with database.transaction() as session:
        session.add_all(rows)
    vmps = (
        _vmp(catalogue, "c.catcd = '0000'"),
        _vmp(catalogue, "c.catcd IN ('0002', '0003')"),
        _vmp(catalogue, "c.catcd IN ('0008', '0009')"),
    )
    return BenchClinic(
        admin=admin,
        prescriber=sign_in(database, "doctor", PASSWORD, "bench"),
        pharmacist=sign_in(database, "pharmacist", PASSWORD, "bench"),
        catalogue=catalogue,
        patient_ids=[p.id for p in rows],
        vmps=vmps,
        extra={"clinic_id": clinic.id, "pharmacy_id": pharmacy.id},
    )
