"""``rxdesk`` from start to the workspaces (pytest-qt, offscreen): first run, sign-in, the session's window."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.demo import DEMO_PASSWORD
from desktop.app import start_gui


def test_first_run_signs_in_opens_the_workspaces_and_signs_out(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # start_gui sets its own: restored after the test
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    gui = start_gui(app, tmp_path / "data")
    assert gui is not None
    try:
        assert gui.sign_in_window.isVisible() and gui.sign_in_window.demo_hint is not None  # a fresh folder: demo
        gui.sign_in_window.username.setText("doctor")
        gui.sign_in_window.secret.setText(DEMO_PASSWORD)
        with qtbot.waitSignal(gui.sign_in_window.signed_in, timeout=5000):
            gui.sign_in_window.submit()
        gc.collect()  # the session's window must be held, not left to Python's collector
        assert gui.session is not None and gui.session.isVisible()
        assert gui.session.titles() == ["Prescribe", "Patients", "Medicines"] and not gui.sign_in_window.isVisible()
        # Sync runs from the start in its own thread; a fresh installation has no server yet.
        qtbot.waitUntil(lambda: gui.sync.running and gui.sync.status is not None, timeout=5000)
        sync_indicator = gui.session.indicators.sync
        assert sync_indicator is not None
        qtbot.waitUntil(lambda: sync_indicator.text() == "● Not connected")
        assert gui.sync.scheduler is not None
        sync_thread = gui.sync.scheduler._thread
        gui.session.sign_out()
        assert gui.session is None and gui.sign_in_window.isVisible()
    finally:
        QThreadPool.globalInstance().waitForDone(60_000)  # the first-run catalogue build, if still going
        gui.sign_in_window.close()
        gui.catalogue.close()
        gui.close()
        app.setProperty("rxdesk_gui", None)
    assert not gui.sync.running and not sync_thread.is_alive()  # ended before the database closed
    assert (tmp_path / "data" / "rxdesk.sqlite").exists() and (tmp_path / "data" / "dmd.sqlite").exists()
