"""Sync in the desktop app (pytest-qt, offscreen), real widgets against the real SyncEngine and the Appwrite
stand-in: signing the workstation in through the dialog, Sync now through the scheduler's thread, a conflict in
the inbox restored, an ended session signed in again by a pharmacist, offline with the waiting count, and the
status bar and the kiosk's bar showing it all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.audit.viewer import recent_events
from core.dmd.catalogue import Catalogue
from core.kiosk import KioskSettings, KioskWorkspace
from core.outbox import outbox_counts
from core.patients.records import PatientDetails, create_patient, update_patient
from core.tokens.ledger import EntryKind, _append, create_account
from desktop.admin_sync import SyncPanel
from desktop.admin_workspace import AdminWorkspace
from desktop.catalogue_window import CatalogueWindow
from desktop.kiosk_window import KioskWindow
from desktop.main_window import MainWindow
from desktop.operation import announce
from desktop.sign_in import SignInWindow
from desktop.sync_dialogs import ServerSignInDialog, SyncDetailsDialog
from desktop.sync_runner import SyncRunner
from desktop.topics import PATIENTS_CHANGED
from sync.connection import sign_in as server_sign_in
from sync.engine import SyncState
from tests.clinic import WORKSTATION, Clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import ACCOUNT_PASSWORD, SyncWorld, world

EMAIL = "front-desk@example.org"
SYNC_TIMEOUT_MS = 30_000  # a whole sync of a fresh clinic through the stand-in takes a few seconds


@pytest.fixture
def sync_world(
    appwrite_server: Callable[..., AppwriteStandin], memory_keyring: MemoryKeyring, tmp_path: Path
) -> SyncWorld:
    return world(appwrite_server(), tmp_path)


@pytest.fixture
def runner(qtbot: QtBot, clinic: Clinic, memory_keyring: MemoryKeyring) -> Iterator[SyncRunner]:
    """The app's runner for the clinic's database; it syncs when asked (and once at start), not by the clock."""
    runner = SyncRunner(clinic.database, clock=clinic.clock, tick_s=60)
    runner.start()
    qtbot.waitUntil(lambda: runner.running and runner.status is not None, timeout=5000)
    yield runner
    assert runner.stop(), "the sync thread did not end"


@pytest.fixture
def catalogue_window(qtbot: QtBot, demo_catalogue: Catalogue) -> CatalogueWindow:
    return CatalogueWindow(demo_catalogue.path)  # the main window takes it as its Medicines tab, and owns it


def window_for(qtbot: QtBot, ctx: object, catalogue: CatalogueWindow, runner: SyncRunner) -> MainWindow:
    window = MainWindow(ctx, catalogue, runner)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.show()
    return window


def press(dialog: ServerSignInDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def wait_for(qtbot: QtBot, runner: SyncRunner, state: SyncState, **counts: int) -> None:
    def there() -> bool:
        status = runner.status
        return (
            status is not None
            and status.state is state
            and all(getattr(status, name) == value for name, value in counts.items())
        )

    qtbot.waitUntil(there, timeout=SYNC_TIMEOUT_MS)


def signed_in_already(sync_world: SyncWorld, clinic: Clinic, runner: SyncRunner, qtbot: QtBot) -> None:
    """The workstation connected (as the sign-in dialog does it: tested below), then synced once."""
    sync_world.account(EMAIL)
    server = sync_world.server
    server_sign_in(clinic.database, server.endpoint, server.project_id, EMAIL, ACCOUNT_PASSWORD)
    runner.sync_now()
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)


def pending(clinic: Clinic) -> int:
    return outbox_counts(clinic.admin).get("pending", 0)


def alice(clinic: Clinic, phone: str = "0113 496 0111", address: str = "3 Park Row\nLeeds") -> PatientDetails:
    return PatientDetails("Alice", "Jones", date(1970, 5, 17), nhs_number="9434765919", address=address,
                          postcode="LS1 5AB", phone=phone)  # fmt: skip


def test_an_admin_signs_the_workstation_in_through_the_dialog_and_syncs_now(
    qtbot: QtBot, clinic: Clinic, sync_world: SyncWorld, runner: SyncRunner, catalogue_window: CatalogueWindow
) -> None:
    window = window_for(qtbot, clinic.admin, catalogue_window, runner)
    indicator = window.indicators.sync
    assert indicator is not None
    assert indicator.text() == "● Not connected" and indicator.accessibleName() == "Sync status"
    assert "No server is set up" in indicator.toolTip()
    indicator.click()  # an admin goes to Admin → Sync
    admin = window.workspace("Admin")
    assert isinstance(admin, AdminWorkspace) and window.tabs.currentWidget() is admin
    panel = admin.sync
    assert admin.currentWidget() is panel and panel.isVisible()
    assert not panel.sync_button.isEnabled() and not panel.sign_out_button.isEnabled()
    waiting = runner.status.pending  # type: ignore[union-attr]
    assert waiting > 0 and panel.pending.text() == f"{waiting:,} changes"  # the clinic's setup, queued

    sync_world.account(EMAIL)
    server = sync_world.server
    dialog = panel.sign_in()
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.endpoint, server.endpoint)
    qtbot.keyClicks(dialog.project, server.project_id)
    qtbot.keyClicks(dialog.email, EMAIL)
    qtbot.keyClicks(dialog.password, "not-the-password")
    press(dialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=10_000)
    assert dialog.isVisible() and dialog.error.text() == "The email or password is wrong."
    assert dialog.password.text() == "" and dialog.focusWidget() is dialog.password

    qtbot.keyClicks(dialog.password, ACCOUNT_PASSWORD)
    press(dialog)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    assert "Signed in to" in panel.message.text()
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)  # the sign-in asked for a sync
    assert indicator.text() == "● Synced just now"
    assert EMAIL in panel.signed_in_by.text() and server.endpoint in panel.server.text()
    assert panel.team.text() == sync_world.team and panel.state.text() == "Up to date"
    assert panel.pending.text() == "0 changes" and panel.sync_button.isEnabled()

    # Sync now: a change made here, sent through the scheduler's thread with its steps shown on the way.
    create_patient(clinic.admin, alice(clinic))
    steps: list[str] = []
    runner.step_changed.connect(steps.append)
    panel.sync_button.click()
    qtbot.waitUntil(lambda: len(sync_world.server_rows("patient")) == 1, timeout=SYNC_TIMEOUT_MS)
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)
    assert runner.step == "" and not panel.step.isVisible()
    assert any(step.startswith("sending ") for step in steps) and "checked against the server" in steps
    assert panel.last_error.text() == "None since RxDesk started"

    # Local work announced by the app (a patient saved, a dispensing) is sent soon, with no button pressed.
    create_patient(clinic.admin, PatientDetails("Bilal", "Khan", date(1985, 1, 9)))
    announce(PATIENTS_CHANGED)
    qtbot.waitUntil(lambda: len(sync_world.server_rows("patient")) == 2, timeout=SYNC_TIMEOUT_MS)
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)
    actions = [e.action for e in recent_events(clinic.admin)]
    assert "sync.sign_in" in actions

    # The runner outlives the session's window: signing out leaves nothing of it listening.
    with qtbot.waitSignal(window.signed_out):
        window.sign_out()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    create_patient(clinic.admin, PatientDetails("Cara", "Lee", date(1990, 2, 3)))
    announce(PATIENTS_CHANGED)
    qtbot.waitUntil(lambda: len(sync_world.server_rows("patient")) == 3, timeout=SYNC_TIMEOUT_MS)
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)


def test_a_conflict_lands_in_the_inbox_and_restore_mine_sends_it_back(
    qtbot: QtBot, clinic: Clinic, sync_world: SyncWorld, runner: SyncRunner, catalogue_window: CatalogueWindow
) -> None:
    signed_in_already(sync_world, clinic, runner, qtbot)
    window = window_for(qtbot, clinic.admin, catalogue_window, runner)
    panel = window.show_sync()
    assert isinstance(panel, SyncPanel)
    patient_id = create_patient(clinic.admin, alice(clinic)).id
    panel.sync_button.click()
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)

    # Reception changes the phone number first; this workstation changes it too before hearing of that.
    reception_ws = sync_world.device("reception-ws")
    reception_ws.sync()
    reception = reception_ws.sign_in("reception-ws-admin")
    update_patient(reception, patient_id, alice(clinic, phone="0113 496 0222"))
    reception_ws.sync()
    update_patient(clinic.admin, patient_id, alice(clinic, phone="0113 496 0333", address="9 New Road\nLeeds"))
    panel.sync_button.click()
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0, inbox=1)
    assert window.indicators.sync.text() == "● Synced just now · 1 to review"  # type: ignore[union-attr]

    qtbot.waitUntil(lambda: panel.inbox.rowCount() == 1)
    cells = [panel.inbox.item(0, column).text() for column in range(panel.inbox.columnCount())]
    assert cells[:3] == ["Conflict", "patient", "Alice JONES"] and "phone" in cells[3]
    fields = {panel.fields.item(r, 0).text(): (panel.fields.item(r, 1).text(), panel.fields.item(r, 2).text())
              for r in range(panel.fields.rowCount())}  # fmt: skip
    phone = next(label for label in fields if "phone" in label.lower())
    assert fields[phone] == ("01134960333", "01134960222")  # mine against the server's, which stands
    assert panel.restore_button.isEnabled() and panel.dismiss_button.isEnabled()

    panel.restore_button.click()
    assert "queued for the server" in panel.message.text() and panel.inbox.rowCount() == 0
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0, inbox=0)  # restoring asked for a sync
    reception_ws.sync()
    assert reception_ws.rows("patient")[patient_id]["phone"] == "01134960333"

    # A change the server refuses outright: nothing to restore, only to dismiss. A credit typed in before this
    # installation was connected to a server (it is refused here now) waits in the queue and is sent.
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    with clinic.database.transaction() as session:
        _append(session, clinic.admin, account, EntryKind.CREDIT, 500, "Cash at the desk")
    panel.sync_button.click()
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0, inbox=1)
    qtbot.waitUntil(lambda: panel.inbox.rowCount() == 1)
    assert panel.inbox.item(0, 0).text() == "Rejected" and "credits come from payments" in panel.inbox.item(0, 3).text()
    assert not panel.restore_button.isEnabled()
    panel.dismiss_button.click()
    assert panel.inbox.rowCount() == 0 and "Dismissed" in panel.message.text()
    actions = [e.action for e in recent_events(clinic.admin)]
    assert "sync.inbox_restore" in actions and "sync.inbox_dismiss" in actions


def test_an_ended_session_asks_for_sign_in_work_goes_on_and_a_pharmacist_signs_in_again(
    qtbot: QtBot,
    clinic: Clinic,
    sync_world: SyncWorld,
    runner: SyncRunner,
    catalogue_window: CatalogueWindow,
    memory_keyring: MemoryKeyring,
) -> None:
    signed_in_already(sync_world, clinic, runner, qtbot)
    window = window_for(qtbot, clinic.pharmacist, catalogue_window, runner)
    indicator = window.indicators.sync
    assert indicator is not None
    [secret] = [v for (_s, name), v in memory_keyring.secrets.items() if name.startswith("appwrite-session:")]
    sync_world.server.expire_session(secret)

    create_patient(clinic.pharmacist, alice(clinic))  # local work goes on
    announce(PATIENTS_CHANGED)
    wait_for(qtbot, runner, SyncState.NEEDS_SIGN_IN)
    qtbot.waitUntil(lambda: indicator.text() == "● Sign in to sync")
    waiting = pending(clinic)
    assert "sign in again" in indicator.toolTip() and f"{waiting} changes waiting to be sent" in indicator.toolTip()
    create_patient(clinic.pharmacist, PatientDetails("Bilal", "Khan", date(1985, 1, 9)))
    announce(PATIENTS_CHANGED)
    wait_for(qtbot, runner, SyncState.NEEDS_SIGN_IN, pending=pending(clinic))  # kept, and sync stays paused
    assert pending(clinic) > waiting

    indicator.click()  # no Admin workspace: the details, with a way to sign in again
    details = window.sync_details
    assert isinstance(details, SyncDetailsDialog) and details.isVisible()
    assert details.state.text() == "Needs sign-in" and details.sign_in_button.isVisible()
    assert not details.sync_button.isEnabled()
    details.sign_in_button.click()
    dialog = details.sign_in_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.endpoint.isReadOnly() and dialog.endpoint.text() == sync_world.server.endpoint
    assert dialog.email.text() == EMAIL and dialog.focusWidget() is dialog.password
    qtbot.keyClicks(dialog.password, ACCOUNT_PASSWORD)
    press(dialog)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)
    qtbot.waitUntil(lambda: details.state.text() == "Up to date")
    assert len(sync_world.server_rows("patient")) == 2


def test_offline_shows_what_waits_and_catches_up_when_the_server_is_back(
    qtbot: QtBot, clinic: Clinic, sync_world: SyncWorld, runner: SyncRunner, catalogue_window: CatalogueWindow
) -> None:
    signed_in_already(sync_world, clinic, runner, qtbot)
    window = window_for(qtbot, clinic.admin, catalogue_window, runner)
    panel = window.show_sync()
    assert isinstance(panel, SyncPanel)
    indicator = window.indicators.sync
    assert indicator is not None
    sync_world.server.stop()
    for given in ("Alice", "Bilal", "Cara"):
        create_patient(clinic.admin, PatientDetails(given, "Jones", date(1970, 5, 17)))
    waiting = pending(clinic)  # the patients and the audit events of their registration
    panel.sync_button.click()
    wait_for(qtbot, runner, SyncState.OFFLINE, pending=waiting)
    assert indicator.text() == f"● Offline — {waiting} waiting"
    assert "does not answer" in indicator.toolTip() and "does not answer" in panel.last_error.text()
    assert panel.pending.text() == f"{waiting} changes"

    sync_world.server.start()
    panel.sync_button.click()
    wait_for(qtbot, runner, SyncState.UP_TO_DATE, pending=0)
    assert indicator.text() == "● Synced just now" and len(sync_world.server_rows("patient")) == 3

    # Signing the workstation out (asked first, audited): sync waits for someone to sign in again.
    panel.confirm = lambda _parent, question: "nothing waiting is lost" in question
    panel.sign_out_button.click()
    wait_for(qtbot, runner, SyncState.NEEDS_SIGN_IN)
    qtbot.waitUntil(lambda: indicator.text() == "● Sign in to sync")
    assert "Signed out of the server" in panel.message.text() and not panel.sync_button.isEnabled()
    assert "sync.sign_out" in [e.action for e in recent_events(clinic.admin)]
    assert sync_world.server.endpoint in panel.server.text()  # kept, for signing in again


def test_closing_stops_a_sync_at_its_next_step(
    qtbot: QtBot, clinic: Clinic, sync_world: SyncWorld, runner: SyncRunner
) -> None:
    signed_in_already(sync_world, clinic, runner, qtbot)
    create_patient(clinic.admin, alice(clinic))
    sync_world.server.delay("POST", r"/v1/functions/sync-push/executions", seconds=2)
    steps: list[str] = []
    runner.step_changed.connect(steps.append)
    runner.sync_now()
    qtbot.waitUntil(lambda: any(step.startswith("sending ") for step in steps), timeout=SYNC_TIMEOUT_MS)
    assert runner.stop(timeout_s=15)  # once the server has answered, before anything else is done
    assert "checked against the server" not in steps
    assert len(sync_world.server_rows("patient")) == 1 and pending(clinic) > 0  # applied there, not yet recorded here

    again = SyncRunner(clinic.database, clock=clinic.clock, tick_s=60)  # the next start: the replay is harmless
    again.start()
    try:
        wait_for(qtbot, again, SyncState.UP_TO_DATE, pending=0, inbox=0)
        assert len(sync_world.server_rows("patient")) == 1
    finally:
        assert again.stop()


def test_sync_that_cannot_start_says_so(qtbot: QtBot, clinic: Clinic, tmp_path: Path) -> None:
    from core.storage.database import open_database

    broken = open_database(tmp_path / "gone.sqlite")
    broken.close()
    (tmp_path / "gone.sqlite").unlink()
    (tmp_path / "gone.sqlite").mkdir()  # a folder where the database was: nothing can read it
    runner = SyncRunner(broken)
    runner.start()
    qtbot.waitUntil(lambda: runner.status is not None, timeout=5000)
    assert runner.status is not None and runner.status.state is SyncState.ERROR and not runner.running
    assert runner.status.detail.startswith("Sync could not start: ") and runner.last_problem is not None
    assert runner.stop()


def test_the_kiosk_bar_shows_sync_and_its_details(
    qtbot: QtBot, clinic: Clinic, runner: SyncRunner, demo_catalogue: Catalogue
) -> None:
    sign_in = SignInWindow(clinic.database, WORKSTATION, demo=False, keypad=True)
    catalogue = CatalogueWindow(demo_catalogue.path)
    settings = KioskSettings(workspace=KioskWorkspace.MEDICINES)
    kiosk = KioskWindow(sign_in, catalogue, clinic.database, WORKSTATION, settings, runner)
    qtbot.addWidget(kiosk)
    kiosk.show()
    try:
        assert kiosk.start_session(clinic.technician)
        indicator = kiosk.sync_indicator
        assert indicator is not None and indicator.isVisible() and indicator.text() == "● Not connected"
        details = kiosk.show_sync()
        assert details is not None and details.isVisible()
        assert "Ask an admin to connect" in details.advice.text() and not details.sign_in_button.isVisible()
        kiosk.lock()  # dialogs close with the lock, like any other
        assert not details.isVisible()
    finally:
        kiosk._may_close = True
        catalogue.close()
