"""Values only one row of an organisation may hold (an NHS number, a user name, a token account's owner) made at two
workstations while they were apart: the server keeps the first, the second row is kept without the value, nothing
is refused or lost, sync never stops over it, and the inbox says what was set aside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from core.patients.records import PatientDetails, create_patient, update_patient
from core.storage.database import open_database
from core.storage.models import OutboxEntry
from core.users.roles import Role
from core.users.service import NewUser, create_first_admin, sign_in
from sync.inbox import dismiss, open_items
from sync.tables import SYNC_TABLES
from tests.clinic import PASSWORD
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import Device, SyncWorld, world

NHS_NUMBER = "9434765919"


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin], memory_keyring: MemoryKeyring, tmp_path: Path
) -> SyncWorld:
    return world(appwrite_server(), tmp_path)


def _alice(address: str = "3 Park Row\nLeeds", nhs_number: str | None = NHS_NUMBER) -> PatientDetails:
    return PatientDetails("Alice", "Jones", date(1970, 5, 17), nhs_number=nhs_number, address=address,
                          postcode="LS1 5AB")  # fmt: skip


def _two(sync_world: SyncWorld) -> tuple[Device, Device]:
    clinic, pharmacy = sync_world.device("clinic-ws"), sync_world.device("pharmacy-ws")
    clinic.sync()
    pharmacy.sync()
    clinic.sync()
    return clinic, pharmacy


def test_unique_columns_are_the_models_unique_columns() -> None:
    # The gateway and the merge know exactly the values the app database holds once (else a pull could fail on one).
    for table in SYNC_TABLES:
        unique = {c.name for c in table.model_table.columns if c.unique and c.name != "id"}
        assert set(table.unique) == unique, table.name


def test_the_same_patient_registered_at_two_workstations_while_apart_is_kept_twice_without_a_second_nhs_number(
    sync_world: SyncWorld,
) -> None:
    clinic, pharmacy = _two(sync_world)
    first = create_patient(clinic.sign_in("clinic-ws-admin"), _alice()).id
    counter = pharmacy.sign_in("pharmacy-ws-admin")
    second = create_patient(counter, _alice(address="9 New Road\nLeeds")).id
    clinic.sync()

    report = pharmacy.sync()
    assert report.pushed.get("conflict") == 1 and "rejected" not in report.pushed, report.pushed
    here = pharmacy.rows("patient")
    assert here[first]["nhs_number"] == NHS_NUMBER  # the server's, taken here
    assert (
        here[second]["nhs_number"] is None and here[second]["address"] == "9 New Road\nLeeds"
    )  # kept, less the number
    [item] = open_items(counter)
    assert item.kind == "set aside" and not item.restorable and item.row_id == second
    assert "NHS number 9434765919" in item.reason and "Compare the two records" in item.reason
    assert item.mine["nhs_number"] == NHS_NUMBER and item.server is not None and item.server["nhs_number"] is None

    server = sync_world.server_rows("patient")
    assert server[first]["nhs_number"] == NHS_NUMBER and server[second]["nhs_number"] is None
    sync_world.settle()
    assert clinic.rows("patient")[second]["address"] == "9 New Road\nLeeds"
    assert sync_world.tally().clean, sync_world.tally()
    dismiss(counter, item.id)
    assert open_items(counter) == []


def test_an_nhs_number_another_patient_was_given_meanwhile_is_kept_off_an_edited_record(sync_world: SyncWorld) -> None:
    clinic, pharmacy = _two(sync_world)
    counter = pharmacy.sign_in("pharmacy-ws-admin")
    bob = create_patient(counter, PatientDetails("Bob", "Smith", date(1981, 2, 3), postcode="LS1 5AB")).id
    sync_world.settle()
    # Apart: the clinic registers Carol with her number; the counter, not knowing her, types it into Bob's record.
    carol = create_patient(clinic.sign_in("clinic-ws-admin"), PatientDetails("Carol", "Jones", date(1990, 1, 1),
                                                                             nhs_number="4010232137")).id  # fmt: skip
    update_patient(counter, bob, PatientDetails("Bob", "Smith", date(1981, 2, 3), postcode="LS1 5AB",
                                                nhs_number="4010232137", phone="0113 496 0999"))  # fmt: skip
    clinic.sync()
    report = pharmacy.sync()
    assert report.pushed.get("conflict") == 1, report.pushed
    here = pharmacy.rows("patient")
    assert here[bob]["nhs_number"] is None and here[bob]["phone"] == "01134960999"  # the rest of the edit was taken
    assert here[carol]["nhs_number"] == "4010232137"
    [item] = open_items(counter)
    assert item.kind == "set aside" and not item.restorable and item.row_id == bob
    sync_world.settle()
    assert sync_world.tally().clean, sync_world.tally()


def test_first_admins_with_the_same_user_name_both_sync_and_the_second_is_renamed(
    sync_world: SyncWorld, tmp_path: Path
) -> None:
    databases = []
    for name in ("north-ws", "south-ws"):
        database = open_database(tmp_path / name / "rxdesk.sqlite")
        create_first_admin(database, NewUser("admin", f"Admin of {name}", Role.ADMIN, PASSWORD), name)
        databases.append(database)
    north = sync_world.device("north-ws", databases[0])
    south = sync_world.device("south-ws", databases[1])
    north.sync()
    report = south.sync()
    assert "rejected" not in report.pushed, report.pushed  # its admin's changes were all taken
    renamed = next(r["username"] for r in south.rows("user_account").values() if r["full_name"] == "Admin of south-ws")
    assert renamed.startswith("admin~") and len(renamed) == len("admin~") + 6
    ctx = sign_in(south.database, renamed, PASSWORD, "south-ws")  # the password stayed with the user
    [item] = open_items(ctx)
    assert item.kind == "set aside" and renamed in item.reason
    sync_world.settle()
    names = sorted(r["username"] for r in sync_world.server_rows("user_account").values())
    assert names == sorted(["admin", renamed])
    assert sync_world.tally().clean, sync_world.tally()


def test_a_pulled_row_takes_its_value_from_a_row_the_server_never_took(sync_world: SyncWorld) -> None:
    # A row refused before the gateway set values aside (or never sent) holds the number here: taking the server's
    # patient must not fail (that would stop this workstation's every sync), so the local row gives it up.
    clinic, pharmacy = _two(sync_world)
    counter = pharmacy.sign_in("pharmacy-ws-admin")
    local = create_patient(counter, _alice(address="9 New Road\nLeeds")).id
    with pharmacy.database.transaction() as session:
        session.execute(update(OutboxEntry).where(OutboxEntry.row_id == local).values(state="rejected"))
    first = create_patient(clinic.sign_in("clinic-ws-admin"), _alice()).id
    clinic.sync()

    pharmacy.sync()
    here = pharmacy.rows("patient")
    assert here[first]["nhs_number"] == NHS_NUMBER
    assert here[local]["nhs_number"] is None and here[local]["address"] == "9 New Road\nLeeds"
    [item] = open_items(counter)
    assert item.kind == "set aside" and item.row_id == local and "NHS number 9434765919" in item.reason
    assert item.mine["nhs_number"] == NHS_NUMBER
