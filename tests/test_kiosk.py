"""The kiosk (pytest-qt, offscreen, a real app database and the demo catalogue): signing in on the keypad, the idle
lock and unlocking, leaving only with an admin's PIN, touch-sized controls, scanning first, and the whole app
started with --kiosk."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QTabBar, QWidget
from pytestqt.qtbot import QtBot
from shiboken6 import isValid
from sqlalchemy import select

from core.dmd.catalogue import Catalogue
from core.dmd.layout import copy_replica
from core.kiosk import KioskSettings, KioskWorkspace
from core.storage.models import AuditEvent
from core.users.roles import Role
from core.users.service import NewUser, create_user
from desktop.app import apply_style, start_gui
from desktop.catalogue_window import CatalogueWindow
from desktop.counter_workspace import CounterWorkspace
from desktop.kiosk_window import KioskWindow
from desktop.pin_pad import PinPad
from desktop.sign_in import SignInWindow
from tests.clinic import PASSWORD, WORKSTATION, Clinic, copy_clinic
from tests.test_counter_panel import signed
from tests.test_dispensing import SCHEDULE_4, vmp_with_gtin

ADMIN_PIN = "8642"
PHARMACIST_PIN = "1357"


@pytest.fixture
def kiosk(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> Iterator[KioskWindow]:
    create_user(clinic.admin, NewUser("boss", "Bea Boss", Role.ADMIN, PASSWORD, pin=ADMIN_PIN))
    sign_in = SignInWindow(clinic.database, WORKSTATION, demo=False, keypad=True)
    catalogue = CatalogueWindow(demo_catalogue.path)
    window = KioskWindow(sign_in, catalogue, clinic.database, WORKSTATION, KioskSettings())
    sign_in.signed_in.connect(window.start_session)  # as desktop.app.Gui does
    qtbot.addWidget(window)
    window.showFullScreen()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    yield window
    window._may_close = True  # let the fixture's window go (the tests leave through the admin's exit)
    catalogue.close()


def activate(qtbot: QtBot, window: QWidget) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def tap(pad: PinPad, digits: str) -> None:
    for digit in digits:
        pad.keys[digit].click()
    pad.keys["ok"].click()


def sign_in_on_the_keypad(qtbot: QtBot, kiosk: KioskWindow, username: str, pin: str) -> None:
    kiosk.sign_in.username.setText(username)
    assert kiosk.sign_in.pin_pad is not None
    with qtbot.waitSignal(kiosk.sign_in.signed_in, timeout=5000):
        tap(kiosk.sign_in.pin_pad, pin)


def test_signing_in_on_the_keypad_opens_the_counter_ready_for_a_scan(
    qtbot: QtBot, kiosk: KioskWindow, clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    rx_id = signed(clinic, demo_catalogue, vmp_with_gtin(demo_catalogue, SCHEDULE_4))
    assert kiosk.current_page() == "sign in" and kiosk.isFullScreen()
    assert kiosk.windowFlags() & Qt.WindowType.FramelessWindowHint
    sign_in_on_the_keypad(qtbot, kiosk, "pharm", PHARMACIST_PIN)
    assert kiosk.current_page() == "session" and "Priya Patel" in kiosk.user_label.text()
    workspace = kiosk.workspace
    assert isinstance(workspace, CounterWorkspace)
    assert kiosk.focusWidget() is workspace.counter.find_box  # the focus is where a scan is expected
    activate(qtbot, kiosk)  # (offscreen Qt lets the window go inactive as the workspace is built)
    assert workspace.counter.find_box.hasFocus()
    qtbot.keyClicks(workspace.counter.find_box, rx_id)  # the scanner's burst
    qtbot.keyClick(workspace.counter.find_box, Qt.Key.Key_Return)
    assert workspace.counter.prescription is not None and workspace.counter.prescription.id == rx_id
    assert all(b.focusPolicy() == Qt.FocusPolicy.NoFocus for b in (kiosk.lock_button, kiosk.exit_button))


def test_a_role_without_the_kiosk_workspace_is_refused(qtbot: QtBot, kiosk: KioskWindow) -> None:
    kiosk.sign_in.username.setText("drsmith")
    kiosk.sign_in.secret.setText(PASSWORD)
    with qtbot.waitSignal(kiosk.sign_in.signed_in, timeout=5000):
        kiosk.sign_in.submit()
    assert kiosk.current_page() == "sign in" and kiosk.workspace is None
    assert kiosk.sign_in.error.text() == "This kiosk is for the counter: a prescriber cannot use it."


def test_the_kiosk_locks_when_idle_and_unlocks_with_the_users_pin(
    qtbot: QtBot, kiosk: KioskWindow, clinic: Clinic
) -> None:
    sign_in_on_the_keypad(qtbot, kiosk, "pharm", PHARMACIST_PIN)
    workspace = kiosk.workspace
    assert isinstance(workspace, CounterWorkspace) and workspace.cd_register is not None
    receipt = workspace.cd_register.book_receipt()  # a dialog left open over the counter
    assert receipt.isVisible()
    kiosk.idle.timer.setInterval(300)  # minutes in use; a fraction of a second here
    kiosk.idle.start()
    qtbot.waitUntil(lambda: kiosk.current_page() == "locked", timeout=5000)
    assert not isValid(receipt) or not receipt.isVisible()  # closed (and deleted) with the lock
    assert "Priya Patel is signed in" in kiosk.lock_screen.who.text()
    assert not workspace.isVisible()  # nothing of the session shows while locked

    pad = kiosk.lock_screen.pad
    tap(pad, "9999")
    qtbot.waitUntil(kiosk.lock_screen.error.isVisible, timeout=5000)
    assert kiosk.lock_screen.error.text() == "Wrong user name, password or PIN." and kiosk.current_page() == "locked"
    with qtbot.waitSignal(kiosk.lock_screen.unlocked, timeout=5000):
        tap(pad, PHARMACIST_PIN)
    assert kiosk.current_page() == "session" and kiosk.workspace is workspace  # the work is where it was left
    assert pad.pin() == ""


def test_input_keeps_the_kiosk_unlocked(qtbot: QtBot, kiosk: KioskWindow) -> None:
    sign_in_on_the_keypad(qtbot, kiosk, "pharm", PHARMACIST_PIN)
    assert isinstance(kiosk.workspace, CounterWorkspace)
    box = kiosk.workspace.counter.find_box
    activate(qtbot, kiosk)
    kiosk.idle.timer.setInterval(600)
    kiosk.idle.start()
    for step in range(8):  # 1.2 s of someone working, one touch every 150 ms
        qtbot.wait(150)
        qtbot.mouseMove(box, QPoint(10 + step, 10))
        qtbot.keyClick(box, "a")
    assert kiosk.current_page() == "session"
    qtbot.waitUntil(lambda: kiosk.current_page() == "locked", timeout=3000)  # then nobody: locked


def test_someone_else_signs_in_from_the_lock_screen(qtbot: QtBot, kiosk: KioskWindow) -> None:
    sign_in_on_the_keypad(qtbot, kiosk, "pharm", PHARMACIST_PIN)
    kiosk.lock_button.click()
    assert kiosk.current_page() == "locked"
    kiosk.lock_screen.other_button.click()
    assert kiosk.current_page() == "sign in" and kiosk.workspace is None and kiosk.isVisible()
    kiosk.sign_in.username.setText("tech")
    kiosk.sign_in.secret.setText(PASSWORD)
    with qtbot.waitSignal(kiosk.sign_in.signed_in, timeout=5000):
        kiosk.sign_in.submit()
    assert kiosk.current_page() == "session" and "Tom Turner" in kiosk.user_label.text()
    kiosk.sign_out_button.click()  # back to the kiosk's sign-in screen, never the desktop
    assert kiosk.current_page() == "sign in" and kiosk.isVisible() and kiosk.isFullScreen()


def kiosk_exits(clinic: Clinic) -> list[str]:
    with clinic.database.reader() as session:
        return list(session.execute(select(AuditEvent.user_id).where(AuditEvent.action == "kiosk.exit")).scalars())


def test_leaving_the_kiosk_needs_an_admins_pin(qtbot: QtBot, kiosk: KioskWindow, clinic: Clinic) -> None:
    assert kiosk.close() is False and kiosk.isVisible()  # Alt+F4, the window manager: refused
    exited: list[bool] = []
    kiosk.exited.connect(lambda: exited.append(True))
    dialog = kiosk.request_exit()
    dialog.username.setText("pharm")
    tap(dialog.pad, PHARMACIST_PIN)  # a pharmacist's right PIN is not enough
    qtbot.waitUntil(dialog.error.isVisible, timeout=5000)
    assert dialog.error.text() == "Only an admin can leave the kiosk." and kiosk.isVisible()
    dialog.username.setText("boss")
    tap(dialog.pad, "0000")
    qtbot.waitUntil(lambda: dialog.error.text() == "Wrong user name, password or PIN.", timeout=5000)
    assert kiosk.isVisible() and exited == [] and kiosk_exits(clinic) == []

    with qtbot.waitSignal(kiosk.exited, timeout=5000):
        tap(dialog.pad, ADMIN_PIN)
    assert not kiosk.isVisible() and exited == [True]
    [admin_id] = kiosk_exits(clinic)
    with clinic.database.reader() as session:
        boss = session.execute(select(AuditEvent.user_id).where(AuditEvent.action == "user.sign_in")).scalars()
        assert admin_id in set(boss)


def test_controls_are_touch_sized(qtbot: QtBot, kiosk: KioskWindow) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.styleSheet()
    apply_style(app)
    try:
        sign_in_on_the_keypad(qtbot, kiosk, "pharm", PHARMACIST_PIN)
        qtbot.wait(50)
        assert isinstance(kiosk.workspace, CounterWorkspace)
        controls = [w for w in kiosk.findChildren(QWidget) if isinstance(w, QPushButton | QLineEdit) and w.isVisible()]
        assert len(controls) >= 6
        small = [(w.text() or w.accessibleName(), w.height()) for w in controls if w.height() < 44]
        assert small == []
        tabs = kiosk.workspace.tabs.findChild(QTabBar)
        assert tabs is not None and all(tabs.tabRect(i).height() >= 44 for i in range(tabs.count()))
        assert kiosk.workspace.owings.table.verticalHeader().defaultSectionSize() >= 44
    finally:
        app.setStyleSheet(before)


def test_rxdesk_kiosk_starts_locked_down(
    qtbot: QtBot, clinic_template: Clinic, demo_catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # start_gui sets its own: restored after the test
    data = tmp_path / "data"
    data.mkdir()
    copy_clinic(clinic_template, data / "rxdesk.sqlite").database.close()
    copy_replica(demo_catalogue.path, data / "dmd.sqlite")  # a current replica: nothing to build
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.styleSheet()
    gui = start_gui(app, data, kiosk=True, kiosk_workspace="medicines")
    assert gui is not None and gui.kiosk_window is not None
    window = gui.kiosk_window
    try:
        window.exited.disconnect()  # the real app quits; the test goes on
        assert window.isVisible() and window.isFullScreen() and window.settings.workspace is KioskWorkspace.MEDICINES
        assert not gui.sign_in_window.isWindow() and gui.sign_in_window.pin_pad is not None  # inside the kiosk
        gui.sign_in_window.username.setText("tech")
        gui.sign_in_window.secret.setText(PASSWORD)
        with qtbot.waitSignal(gui.sign_in_window.signed_in, timeout=5000):
            gui.sign_in_window.submit()
        assert gui.session is None and window.current_page() == "session" and window.workspace is gui.catalogue
        window.sign_out()
        assert gui.catalogue.parent() is None  # handed back, not destroyed: the next session reuses it
    finally:
        window.leave()
        gui.catalogue.close()
        gui.close()
        app.setProperty("rxdesk_gui", None)
        app.setStyleSheet(before)
