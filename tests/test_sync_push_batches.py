"""The sync-push gateway's batches (backend/functions/sync-push): the rows a batch needs read up front, its changes
staged into transactions of at most 100 operations, and what happens when the server moves under it: another
execution changing a row between the gateway's read and its commit, a row already there that the gateway took to
be new. Driven through the official SDK against the Appwrite stand-in, as the function runs there."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from appwrite.services.tables_db import TablesDB

from core.patients.records import PatientDetails, create_patient, update_patient
from sync.push import next_batch
from sync.server_config import DATABASE_ID
from tests.backend_functions import load_function
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import Device, SyncWorld, world

GATEWAY = load_function("sync-push")


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin], memory_keyring: MemoryKeyring, tmp_path: Path
) -> SyncWorld:
    return world(appwrite_server(), tmp_path)


@pytest.fixture
def clinic(sync_world: SyncWorld) -> Device:
    device = sync_world.device("clinic-ws")
    device.sync()  # its organisation and users are on the server
    return device


def _patient(n: int, phone: str | None = None) -> PatientDetails:
    name = "".join(chr(ord("a") + int(d)) for d in str(n)).title()  # names hold no digits
    return PatientDetails(f"Pat{name}", "Jones", date(1970, 1, 1 + n % 28), postcode="LS1 5AB", phone=phone)


def _gateway(sync_world: SyncWorld, device: Device, tables: Any = None) -> Any:
    tables = tables or sync_world.tables()
    return GATEWAY.Gateway(tables, None, sync_world.team, sync_world.user_of(device), device.name)


def _ops(device: Device) -> list[dict[str, Any]]:
    return [pending.op for pending in next_batch(device.database)]


def _committed(server: AppwriteStandin) -> list[int]:
    """The operations of each committed transaction, in the order made."""
    with server.state.lock:
        return [len(t.operations) for t in server.state.transactions.values() if t.status == "committed"]


def test_a_batch_of_more_than_100_operations_commits_in_transactions_of_at_most_100(
    sync_world: SyncWorld, clinic: Device
) -> None:
    admin = clinic.sign_in("clinic-ws-admin")
    for n in range(55):
        create_patient(admin, _patient(n))
    ops = _ops(clinic)  # the first 100: each patient and its audit event (200 rows and 100 sync_op rows)
    assert len(ops) == 100
    patients = {op["row"] for op in ops if op["table"] == "patient"}
    before = len(_committed(sync_world.server))

    answers = _gateway(sync_world, clinic).push_all(ops, {"owner"})

    assert [a["status"] for a in answers] == ["applied"] * 100
    assert [a["id"] for a in answers] == [op["id"] for op in ops]
    committed = _committed(sync_world.server)[before:]
    assert len(committed) >= 2 and max(committed) <= 100 and sum(committed) == 200
    assert patients <= set(sync_world.server_rows("patient"))
    recorded = {row["$id"] for row in sync_world.server.rows(DATABASE_ID, "sync_op")}
    assert {op["id"] for op in ops} <= recorded
    # Sent again (an answer lost on the way back): every op is a duplicate, nothing is written twice.
    again = _gateway(sync_world, clinic).push_all(ops, {"owner"})
    assert [a["status"] for a in again] == ["duplicate"] * 100
    assert len(_committed(sync_world.server)) == before + len(committed)


class ChangedMeanwhile:
    """The gateway's database calls, with another execution's write landing just before the first staging."""

    def __init__(self, tables: TablesDB, write: Callable[[], None]) -> None:
        self.tables = tables
        self.write: Callable[[], None] | None = write

    def create_operations(self, *args: Any, **kwargs: Any) -> Any:
        if self.write is not None:
            write, self.write = self.write, None
            write()
        return self.tables.create_operations(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tables, name)


def test_a_field_another_execution_changes_after_the_batch_read_it_is_a_conflict_not_overwritten(
    sync_world: SyncWorld, clinic: Device
) -> None:
    admin = clinic.sign_in("clinic-ws-admin")
    alice = create_patient(admin, _patient(1, phone="0113 496 0000")).id
    clinic.sync()
    update_patient(admin, alice, _patient(1, phone="0113 496 0111"))  # base: the number the server had
    ops = _ops(clinic)
    assert sorted(op["table"] for op in ops) == ["audit_event", "patient"]
    update = next(i for i, op in enumerate(ops) if op["table"] == "patient")

    def another_workstation() -> None:  # committed after the gateway read the row, before it staged its update
        sync_world.tables().update_row(DATABASE_ID, "patient", alice, {"phone": "01134960222"})

    gateway = _gateway(sync_world, clinic, ChangedMeanwhile(sync_world.tables(), another_workstation))
    answers = gateway.push_all(ops, {"owner"})

    assert [a["status"] for a in answers] == ["applied" if i != update else "conflict" for i in range(2)]
    assert "Changed at another workstation first: phone" in answers[update]["reason"]
    assert answers[update]["server"]["phone"] == "01134960222"
    assert sync_world.server_rows("patient")[alice]["phone"] == "01134960222"  # the other write stands


def test_a_row_already_on_the_server_that_the_batch_took_to_be_new_is_answered_as_already_there(
    sync_world: SyncWorld, clinic: Device
) -> None:
    admin = clinic.sign_in("clinic-ws-admin")
    bob = create_patient(admin, _patient(2)).id
    carol = create_patient(admin, _patient(3)).id
    ops = _ops(clinic)
    [bob_op] = [op for op in ops if op["row"] == bob]
    # The row is there without its op's record (written by hand on the server, say): the staged create fails the
    # commit, and the batch's changes are applied one by one instead.
    first = {**bob_op["data"], "team_id": sync_world.team, "given_name": "Robert"}
    sync_world.tables().create_row(DATABASE_ID, "patient", bob, first, [f'read("team:{sync_world.team}")'])

    answers = {a["id"]: a for a in _gateway(sync_world, clinic).push_all(ops, {"owner"})}

    assert answers[bob_op["id"]]["status"] == "applied"
    assert answers[bob_op["id"]]["reason"] == "already on the server"
    assert {a["status"] for i, a in answers.items() if i != bob_op["id"]} == {"applied"}
    server = sync_world.server_rows("patient")
    assert server[bob]["given_name"] == "Robert" and carol in server


def test_a_refused_change_in_a_batch_leaves_the_others_and_is_refused_again_when_sent_again(
    sync_world: SyncWorld, clinic: Device
) -> None:
    admin = clinic.sign_in("clinic-ws-admin")
    for n in range(3):
        create_patient(admin, _patient(n))
    ops = _ops(clinic)
    ops[2] = {**ops[2], "actor": "nobody-here"}

    answers = _gateway(sync_world, clinic).push_all(ops, {"owner"})

    assert [a["status"] for a in answers] == ["applied" if i != 2 else "rejected" for i in range(len(ops))]
    assert answers[2]["reason"] == "Its author is not a user of this team on the server yet."
    assert ops[2]["row"] not in sync_world.server_rows("patient")
    again = _gateway(sync_world, clinic).push_all(ops, {"owner"})
    assert again[2]["status"] == "rejected" and again[2]["reason"] == answers[2]["reason"]
    assert {a["status"] for i, a in enumerate(again) if i != 2} == {"duplicate"}


@pytest.mark.parametrize("count_limit", [5000, 3])
def test_the_summary_counts_every_row_of_the_team_whether_or_not_a_total_is_capped(
    sync_world: SyncWorld, clinic: Device, monkeypatch: pytest.MonkeyPatch, count_limit: int
) -> None:
    # Appwrite counts a list's total up to 5,000 rows: at the cap the gateway reads every page instead.
    monkeypatch.setattr(GATEWAY, "COUNT_LIMIT", count_limit)
    admin = clinic.sign_in("clinic-ws-admin")
    for n in range(4):
        create_patient(admin, _patient(n))
    clinic.sync()
    summary = _gateway(sync_world, clinic).summary()
    assert summary["counts"]["patient"] == len(sync_world.server_rows("patient")) == 4
    assert summary["counts"]["audit_event"] == len(sync_world.server.rows(DATABASE_ID, "audit_event")) > 4
    # A workstation asks for the tables it compares only.
    asked = _gateway(sync_world, clinic).summary(["patient", "ledger_entry"])
    assert asked["counts"] == {"patient": 4, "ledger_entry": 0} and asked["ledgerHash"] == summary["ledgerHash"]
