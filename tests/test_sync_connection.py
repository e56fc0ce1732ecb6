"""Signing a workstation in to the server as a user of the app (sync.connection.connect_workstation) and out again:
who may do which, what is audited, and that the password goes nowhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from core.audit.viewer import recent_events
from core.errors import PermissionDenied
from sync.connection import SignInError, connect_workstation, disconnect_workstation, read_server_settings
from sync.connection import session_secret as stored_secret
from tests.clinic import Clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import ACCOUNT_PASSWORD, SyncWorld, world


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin], memory_keyring: MemoryKeyring, tmp_path: Path
) -> SyncWorld:
    return world(appwrite_server(), tmp_path)


def test_an_admin_connects_anyone_signs_in_again_and_an_admin_signs_out(
    sync_world: SyncWorld, clinic: Clinic, memory_keyring: MemoryKeyring
) -> None:
    server = sync_world.server
    sync_world.account("desk@example.org")
    with pytest.raises(PermissionDenied):  # a new server is an admin's to choose
        connect_workstation(clinic.pharmacist, server.endpoint, server.project_id, "desk@example.org", ACCOUNT_PASSWORD)
    with pytest.raises(SignInError, match="email or password is wrong"):
        connect_workstation(clinic.admin, server.endpoint, server.project_id, "desk@example.org", "wrong-password")
    assert read_server_settings(clinic.database) is None
    settings = connect_workstation(
        clinic.admin, server.endpoint + "/", server.project_id, "desk@example.org", ACCOUNT_PASSWORD
    )
    assert settings.team == sync_world.team and stored_secret(settings)

    disconnect_workstation(clinic.admin)
    assert stored_secret(settings) is None and read_server_settings(clinic.database) == settings  # address kept
    with pytest.raises(PermissionDenied):
        disconnect_workstation(clinic.pharmacist)
    # The same server again: anyone signed in may do it (a session that ended).
    connect_workstation(clinic.pharmacist, server.endpoint, server.project_id, "desk@example.org", ACCOUNT_PASSWORD)
    assert stored_secret(settings)

    events = [(e.action, e.after or e.before) for e in recent_events(clinic.admin) if e.action.startswith("sync.")]
    assert [action for action, _ in events] == ["sync.sign_in", "sync.sign_out", "sync.sign_in"]
    assert all(ACCOUNT_PASSWORD not in str(values) for _, values in events)
    assert ACCOUNT_PASSWORD not in str(memory_keyring.secrets)
