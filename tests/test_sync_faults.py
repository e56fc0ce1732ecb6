"""Sync under each fault the stand-in can inject, one test a fault: what the workstation says while it lasts, that
local work goes on, and once it is over, that one clean sync leaves nothing lost, nothing applied twice, nothing
stalled and the workstation agreeing with the server (``SyncWorld.tally``).

Batches of 4 ops (``sync.engine.next_batch`` with a smaller size; the product sends 100) give a sync of several
batches from a handful of changes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pytest

import sync.engine
from core.errors import RxDeskError
from core.patients.records import PatientDetails, create_patient
from sync.appwrite_api import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, install_timeouts
from sync.connection import read_server_settings, session_secret
from sync.engine import SyncScheduler, SyncState
from sync.push import next_batch
from sync.server_config import DATABASE_ID
from tests.clinic import Clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import Device, SyncWorld, world

EXECUTIONS = r"/v1/functions/sync-push/executions"
BATCH = 4


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin],
    memory_keyring: MemoryKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> SyncWorld:
    monkeypatch.setattr(sync.engine, "next_batch", partial(next_batch, size=BATCH))
    return world(appwrite_server(), tmp_path)


@pytest.fixture
def device(sync_world: SyncWorld, clinic: Clinic) -> Device:
    """The clinic's workstation, synced once (its organisations and users are on the server)."""
    device = sync_world.device("clinic-ws", clinic.database, clinic.clock)
    device.sync()
    return device


def _name(n: int) -> str:
    return "Pat" + "".join("abcdefghij"[int(d)] for d in str(n))


_made = iter(range(10**6))


def add_patients(clinic: Clinic, count: int) -> list[str]:
    """Patients registered at the clinic: each a patient row and an audit event queued (two ops)."""
    return [
        create_patient(clinic.prescriber, PatientDetails(_name(next(_made)), "Jones", date(1970, 5, 17))).id
        for _ in range(count)
    ]


def assert_clean(sync_world: SyncWorld) -> None:
    """The faults are over: syncing settles, and nothing is lost, duplicated, stalled or diverged."""
    sync_world.server.clear_faults()
    sync_world.settle()
    tally = sync_world.tally()
    assert tally.lost == [] and tally.duplicated == [] and tally.stalled == 0 and tally.diverged == []


def server_ops(sync_world: SyncWorld) -> set[str]:
    return {str(r["$id"]) for r in sync_world.server.rows(DATABASE_ID, "sync_op")}


def on_server(sync_world: SyncWorld, patient_ids: list[str]) -> set[str]:
    return set(patient_ids) & set(sync_world.server_rows("patient"))


def test_connection_dropped_before_the_server_handles_the_push(
    sync_world: SyncWorld, device: Device, clinic: Clinic
) -> None:
    patients = add_patients(clinic, 3)
    ops_before = server_ops(sync_world)
    fault = sync_world.server.drop_before("POST", EXECUTIONS)
    assert device.engine.sync_now() is None
    assert fault.used == 1 and not sync_world.server.requests_matching("POST", EXECUTIONS)[-1].handled
    assert device.engine.status.state is SyncState.ERROR
    assert device.engine.status.detail == "The server could not be reached."
    assert device.pending() == 6 and device.engine.status.pending == 6
    assert server_ops(sync_world) == ops_before and on_server(sync_world, patients) == set()  # never handled
    more = add_patients(clinic, 1)  # local work goes on
    assert device.pending() == 8
    assert_clean(sync_world)
    assert on_server(sync_world, patients + more) == set(patients + more)


def test_connection_dropped_after_the_server_commits_the_push(
    sync_world: SyncWorld, device: Device, clinic: Clinic
) -> None:
    patients = add_patients(clinic, 2)  # 4 ops: one batch
    fault = sync_world.server.drop_after("POST", EXECUTIONS)
    assert device.engine.sync_now() is None
    assert fault.used == 1 and device.engine.status.state is SyncState.ERROR
    assert on_server(sync_world, patients) == set(patients)  # committed; the answer was lost
    assert device.pending() == 4  # so the workstation still holds them as unsent
    ops = server_ops(sync_world)
    report = device.sync()
    assert report.pushed == {"duplicate": 4}  # sent again: recognised, not applied again
    assert server_ops(sync_world) == ops
    assert_clean(sync_world)


def test_timeout_while_the_server_is_still_applying(sync_world: SyncWorld, device: Device, clinic: Clinic) -> None:
    patients = add_patients(clinic, 2)
    sync_world.server.delay("POST", EXECUTIONS, seconds=1.0)
    install_timeouts(read_s=0.3)
    try:
        started = time.monotonic()
        assert device.engine.sync_now() is None
        assert time.monotonic() - started < 0.9  # it gave up, it did not wait for the answer
    finally:
        install_timeouts(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
    assert device.engine.status.state is SyncState.ERROR
    assert device.engine.status.detail == "The server did not answer in time."
    assert device.pending() == 4
    late = sync_world.server.requests_matching("POST", EXECUTIONS)[-1]
    deadline = time.monotonic() + 10
    while late.status is None and time.monotonic() < deadline:  # the server carries on and commits
        time.sleep(0.05)
    assert late.status == 201 and on_server(sync_world, patients) == set(patients)
    add_patients(clinic, 1)
    report = device.sync()
    assert report.pushed == {"duplicate": 4, "applied": 2}
    assert_clean(sync_world)


def test_duplicate_delivery_of_a_batch(sync_world: SyncWorld, device: Device, clinic: Clinic) -> None:
    add_patients(clinic, 4)  # 8 ops: two batches
    replies: list[list[str]] = []

    def deliver_again(step: str) -> None:
        if step.startswith("answered"):
            ops = server_ops(sync_world)
            status, _, body = sync_world.server.replay_last("POST", EXECUTIONS)  # the network sends it twice
            assert status == 201 and server_ops(sync_world) == ops
            results = json.loads(json.loads(body)["responseBody"])["results"]
            replies.append([r["status"] for r in results])

    device.engine.on_step = deliver_again
    report = device.sync()
    assert report.pushed == {"applied": 8}  # the first delivery's answers
    assert replies == [["duplicate"] * BATCH, ["duplicate"] * BATCH]  # the second changed nothing
    device.engine.on_step = lambda _step: None
    assert_clean(sync_world)


def test_401_in_the_middle_of_a_push_pauses_sync_until_signed_in_again(
    sync_world: SyncWorld, device: Device, clinic: Clinic
) -> None:
    patients = add_patients(clinic, 4)  # 8 ops: two batches
    user = sync_world.user_of(device)

    def revoke_after_first_batch(step: str) -> None:
        if step.startswith("recorded"):
            sync_world.server.revoke_sessions(user)  # signed out everywhere, between two batches

    device.engine.on_step = revoke_after_first_batch
    assert device.engine.sync_now() is None
    device.engine.on_step = lambda _step: None
    assert device.engine.status.state is SyncState.NEEDS_SIGN_IN
    assert device.pending() == BATCH  # the first batch was answered and recorded, the second waits
    assert not device.engine.due() and device.engine.sync_now() is None  # paused, not retried
    assert sync_world.server.requests_matching("POST", EXECUTIONS)[-1].status == 401
    add_patients(clinic, 1)  # local work goes on
    assert device.pending() == BATCH + 2
    sync_world.sign_in_again(device)
    assert device.engine.due()
    device.sync()
    assert on_server(sync_world, patients) == set(patients)
    # A session that expires (rather than being revoked) reads the same at the start of a sync.
    add_patients(clinic, 1)
    settings = read_server_settings(device.database)
    assert settings is not None
    sync_world.server.expire_session(session_secret(settings) or "")
    assert device.engine.sync_now() is None and device.engine.status.state is SyncState.NEEDS_SIGN_IN
    assert device.pending() == 2
    sync_world.sign_in_again(device)
    assert_clean(sync_world)


def test_409_transaction_conflict_is_retried_by_the_gateway(
    sync_world: SyncWorld, device: Device, clinic: Clinic
) -> None:
    add_patients(clinic, 1)
    commit = r"/v1/tablesdb/transactions/[^/]+"
    fault = sync_world.server.fail("PATCH", commit, 409, error_type="transaction_conflict")
    report = device.sync()
    assert fault.used == 1 and report.pushed == {"applied": 2}  # the conflicting commit was tried again
    # A row that keeps changing: the gateway gives up on the batch (503), the workstation retries it later.
    patients = add_patients(clinic, 1)
    ops = server_ops(sync_world)
    sync_world.server.fail("PATCH", commit, 409, times=100, error_type="transaction_conflict")
    assert device.engine.sync_now() is None
    assert device.engine.status.state is SyncState.ERROR and "503" in device.engine.status.detail
    assert server_ops(sync_world) == ops and device.pending() == 2  # nothing half-applied
    assert_clean(sync_world)
    assert on_server(sync_world, patients) == set(patients)


def test_429_backs_off_and_keeps_everything(sync_world: SyncWorld, device: Device, clinic: Clinic) -> None:
    add_patients(clinic, 1)
    sync_world.server.fail("POST", EXECUTIONS, 429, retry_after="2")
    assert device.engine.sync_now() is None
    status = device.engine.status
    assert status.state is SyncState.ERROR and status.detail.startswith("The server answered 429")
    assert device.pending() == 2 and not device.engine.due()  # backing off
    device.clock.advance(seconds=3)
    assert device.engine.due()
    assert_clean(sync_world)


def test_500_in_the_middle_of_a_pull(sync_world: SyncWorld, device: Device, clinic: Clinic) -> None:
    patients = add_patients(clinic, 3)

    faults = []

    def fail_the_pull(step: str) -> None:
        if step.startswith("took") and not faults:  # the pull has begun (the push's gateway reads the same rows)
            faults.append(sync_world.server.fail("GET", rf"/v1/tablesdb/{DATABASE_ID}/tables/patient/rows", 500))

    device.engine.on_step = fail_the_pull
    assert device.engine.sync_now() is None
    device.engine.on_step = lambda _step: None
    assert device.engine.status.state is SyncState.ERROR
    assert device.engine.status.detail.startswith("The server answered 500")
    assert device.pending() == 0 and on_server(sync_world, patients) == set(patients)  # the push went through
    add_patients(clinic, 1)
    assert_clean(sync_world)


def test_server_restart_in_the_middle_of_a_sync(sync_world: SyncWorld, device: Device, clinic: Clinic) -> None:
    patients = add_patients(clinic, 4)  # two batches

    def crash_after_first_batch(step: str) -> None:
        if step.startswith("recorded"):
            sync_world.server.stop()

    device.engine.on_step = crash_after_first_batch
    assert device.engine.sync_now() is None
    device.engine.on_step = lambda _step: None
    assert device.engine.status.state is SyncState.ERROR and device.pending() == BATCH
    assert device.engine.sync_now() is None
    assert device.engine.status.state is SyncState.OFFLINE  # the health check finds no server
    add_patients(clinic, 1)  # local work goes on
    sync_world.server.start()  # the same port and state (sessions too)
    device.clock.advance(seconds=10)
    assert device.engine.due()
    assert_clean(sync_world)
    assert on_server(sync_world, patients) == set(patients)


@pytest.fixture(autouse=True)
def _no_stray_on_step(device: Device) -> Iterator[None]:
    yield
    device.engine.on_step = lambda _step: None


def test_the_local_database_failing_mid_sync_leaves_an_error_the_scheduler_retries(
    sync_world: SyncWorld, device: Device, clinic: Clinic
) -> None:
    """A write of the sync's own refused by SQLite (locked by another program past the busy timeout, the disk
    full): ``Database.transaction`` raises RxDeskError, here raised at the step where the answers are to be
    recorded. The engine must not stay "syncing" (never due again: the scheduler would not sync by itself any
    more), but say why and back off like any failed sync; the scheduler then syncs again on its own."""
    patients = add_patients(clinic, 2)

    def disk_full(step: str) -> None:
        if step.startswith("answered"):
            raise RxDeskError("Nothing was saved: the database could not be written (disk I/O error). Try again.")

    device.engine.on_step = disk_full
    with pytest.raises(RxDeskError):
        device.engine.sync_now()
    device.engine.on_step = lambda _step: None
    status = device.engine.status
    assert status.state is SyncState.ERROR and "could not be written" in status.detail
    assert device.pending() == 4 and on_server(sync_world, patients) == set(patients)
    device.clock.advance(seconds=3)  # past the first backoff
    scheduler = SyncScheduler(device.engine, interval=timedelta(seconds=1), tick_s=0.05)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while device.engine.status.state is not SyncState.UP_TO_DATE and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert device.engine.status.state is SyncState.UP_TO_DATE and device.pending() == 0
    assert_clean(sync_world)
