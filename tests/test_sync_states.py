"""The sync engine's states against the Appwrite stand-in: offline while the server is gone, needs sign-in once
the session has ended (paused, not retried with the dead session), and back to work after signing in again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from core.patients.records import PatientDetails, create_patient
from sync.connection import sign_in as server_sign_in
from sync.engine import SyncScheduler, SyncState
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import ACCOUNT_PASSWORD, SyncWorld, world


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin], memory_keyring: MemoryKeyring, tmp_path: Path
) -> SyncWorld:
    return world(appwrite_server(), tmp_path)


def session_secret(keyring: MemoryKeyring) -> str:
    [secret] = [value for (_service, name), value in keyring.secrets.items() if name.startswith("appwrite-session:")]
    return secret


def test_an_ended_session_pauses_sync_until_someone_signs_in_again(
    sync_world: SyncWorld, memory_keyring: MemoryKeyring
) -> None:
    device = sync_world.device("ws")
    device.sync()
    sync_world.server.expire_session(session_secret(memory_keyring))

    engine = device.engine
    assert engine.sync_now() is None
    assert engine.status.state is SyncState.NEEDS_SIGN_IN and "sign in again" in engine.status.detail
    asked = len(sync_world.server.requests)
    # Local work re-reads the status (the scheduler does on every change): the ended session, still in the
    # keyring, does not make it look as if sync could go on.
    assert engine.refresh_status().state is SyncState.NEEDS_SIGN_IN
    assert not engine.due()
    assert engine.sync_now() is None and engine.status.state is SyncState.NEEDS_SIGN_IN
    assert len(sync_world.server.requests) == asked  # the dead session is not tried again

    server_sign_in(
        device.database, sync_world.server.endpoint, sync_world.server.project_id, "ws@example.org", ACCOUNT_PASSWORD
    )
    assert engine.refresh_status().state is SyncState.OFFLINE  # a new session: sync may try again
    device.sync()


def test_offline_while_the_server_is_gone_with_the_changes_kept(sync_world: SyncWorld) -> None:
    device = sync_world.device("ws")
    device.sync()
    admin = device.sign_in("ws-admin")
    sync_world.server.stop()
    create_patient(admin, PatientDetails("Alice", "Jones", date(1970, 5, 17)))
    assert device.engine.sync_now() is None
    status = device.engine.status
    assert status.state is SyncState.OFFLINE and "does not answer" in status.detail and status.pending > 0
    sync_world.server.start()
    device.sync()
    assert device.engine.status.pending == 0


def test_the_scheduler_syncs_when_asked_and_stops(sync_world: SyncWorld) -> None:
    device = sync_world.device("ws")
    states: list[SyncState] = []
    device.engine.listeners.append(lambda status: states.append(status.state))
    scheduler = SyncScheduler(device.engine, tick_s=30)
    scheduler.start()
    try:
        scheduler.sync_soon()
        deadline = time.monotonic() + 20
        while SyncState.UP_TO_DATE not in states and time.monotonic() < deadline:
            time.sleep(0.02)
        assert SyncState.UP_TO_DATE in states and device.pending() == 0
    finally:
        assert scheduler.stop(timeout_s=10) is True
    assert scheduler.stop() is True  # again: nothing to wait for
