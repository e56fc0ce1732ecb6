"""``rxdesk`` with no arguments: the desktop application: sign in, then the workspaces of the user's role."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from core import paths
from core.context import ServiceContext
from core.demo import ensure_demo_installation, is_demo_installation
from core.dmd.replica import ensure_replica, replica_is_current
from core.errors import RxDeskError
from core.kiosk import kiosk_settings, kiosk_workspace
from core.prescriptions.lifecycle import expire_prescriptions
from core.settings import workstation_name
from core.storage.database import APP_DATABASE_NAME, Database, open_database
from core.users.roles import Permission, allowed
from desktop.catalogue_window import CATALOGUE_CHANGED, CatalogueWindow
from desktop.garbage_collector import GarbageCollector
from desktop.messages import error_text, show_error
from desktop.operation import Operation
from desktop.payment_page import prepare_web_engine
from desktop.sign_in import SignInWindow
from desktop.start_check import StartCheck
from desktop.sync_runner import SyncRunner
from desktop.topics import PRESCRIPTIONS_CHANGED

if TYPE_CHECKING:  # imported when first needed: every workspace comes with them, and the sign-in window shows sooner
    from desktop.kiosk_window import KioskWindow
    from desktop.main_window import MainWindow

log = logging.getLogger(__name__)
STYLE_SHEET = paths.RESOURCES / "style.qss"
SYNC_START_DELAY_MS = 300


def run_gui(
    data_dir: Path | None, *, kiosk: bool = False, kiosk_workspace: str | None = None, check_start: bool = False
) -> int:
    """Sign in, then the workspaces; with ``kiosk`` the locked-down kiosk (desktop.kiosk_window), showing the
    workspace named by ``kiosk_workspace`` or else this workstation's kiosk setting. With ``check_start`` the same
    start is watched and ends once it has worked or failed (``rxdesk --check-start``, desktop.start_check)."""
    if QApplication.instance() is None:
        prepare_web_engine()
    app = QApplication.instance() or QApplication(sys.argv[:1] or ["rxdesk"])
    assert isinstance(app, QApplication)
    check = StartCheck(app) if check_start else None
    gui = start_gui(app, data_dir, kiosk=kiosk, kiosk_workspace=kiosk_workspace)
    if gui is None:
        return 1
    app.aboutToQuit.connect(gui.close)
    if check is not None:
        if check.result is not None:  # failed during the start, before there was an event loop to end
            gui.close()
            return check.result
        check.watch(gui)
    return app.exec()


class Gui:
    """The running application's windows and database: the sign-in window, then one session's window at a time.

    A fresh data folder gets the demo installation (demo users shown on the sign-in screen) while the catalogue is
    built from the bundled demo release in the background. Sync (desktop.sync_runner) runs in its own thread from
    the start until ``close``, whoever is signed in; every window shows its state.
    """

    def __init__(
        self,
        data: Path,
        database: Database,
        workstation: str,
        *,
        demo: bool,
        kiosk: bool,
        kiosk_workspace: str | None = None,
    ) -> None:
        self.data = data
        self.database = database
        self.kiosk = kiosk
        self.catalogue = CatalogueWindow(paths.replica_path(data))  # lives across sessions (it may be building)
        self.sign_in_window = SignInWindow(database, workstation, demo=demo, keypad=kiosk)
        self.session: MainWindow | None = None  # Python must hold it, or Qt deletes it
        self.catalogue_preparation: Operation | None = None  # the first start's catalogue build, while it runs
        self.sync = SyncRunner(database)
        self.kiosk_window = self._kiosk_window(workstation, kiosk_workspace) if kiosk else None
        self.sign_in_window.signed_in.connect(self.signed_in)

    def _kiosk_window(self, workstation: str, workspace: str | None) -> KioskWindow:
        from desktop.kiosk_window import KioskWindow

        settings = kiosk_settings(self.database)
        if workspace is not None:  # the command line's choice, for this run
            settings = replace(settings, workspace=kiosk_workspace(workspace))
        window = KioskWindow(self.sign_in_window, self.catalogue, self.database, workstation, settings, self.sync)
        window.exited.connect(QApplication.quit)
        return window

    @property
    def start_window(self) -> QWidget:
        """The window a start shows: the sign-in window, or the kiosk (with its own sign-in) in kiosk mode."""
        return self.kiosk_window if self.kiosk_window is not None else self.sign_in_window

    def show_sign_in(self) -> None:
        if self.kiosk_window is not None:
            self.kiosk_window.showFullScreen()
        else:
            self.sign_in_window.show()

    def signed_in(self, ctx: ServiceContext) -> None:
        if self.kiosk_window is not None:
            if not self.kiosk_window.start_session(ctx):
                return
            expire_out_of_date(ctx)
            parent: QWidget = self.kiosk_window
        else:
            from desktop.main_window import MainWindow

            expire_out_of_date(ctx)
            self.session = MainWindow(ctx, self.catalogue, self.sync)
            self.session.signed_out.connect(self.signed_out)
            self.session.show()
            self.sign_in_window.hide()
            parent = self.session
        if self.catalogue.catalogue_error and replica_is_current(paths.replica_path(self.data)):
            message = f"The medicines catalogue cannot be opened.\n\n{self.catalogue.catalogue_error}"
            QMessageBox.critical(parent, "RxDesk", message)

    def close(self) -> None:
        """End sync's thread, let background work that uses the database finish (closing it under a worker would
        crash), then close it."""
        self.sync.stop()
        QThreadPool.globalInstance().waitForDone()
        self.database.close()

    def signed_out(self) -> None:
        self.session = None
        self.sign_in_window.show()


def start_gui(
    app: QApplication, data_dir: Path | None, *, kiosk: bool = False, kiosk_workspace: str | None = None
) -> Gui | None:
    """Everything ``rxdesk`` shows, ready for the event loop: None (after telling the user) when it cannot start."""
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.APP_NAME)
    if app.findChild(GarbageCollector) is None:
        GarbageCollector(app)  # collections on the UI thread only, between events
    apply_style(app)
    try:
        data = paths.data_dir(data_dir)
        database = open_database(data / APP_DATABASE_NAME)
        demo = ensure_demo_installation(database) or is_demo_installation(database)
        workstation = workstation_name(database)
    except (OSError, RxDeskError) as exc:
        show_error(None, "RxDesk cannot use its data folder.", exc)
        return None
    try:
        gui = Gui(data, database, workstation, demo=demo, kiosk=kiosk, kiosk_workspace=kiosk_workspace)
    except RxDeskError as exc:  # an unknown kiosk workspace on the command line
        show_error(None, "RxDesk cannot start the kiosk.", exc)
        database.close()
        return None
    sys.excepthook = _report_unexpected(gui.catalogue)
    gui.show_sign_in()
    # Once the first window is on screen: the engine is made off the UI thread, then syncs in its own, but loading
    # the Appwrite SDK holds the interpreter for half a second, which would hold back the first paint.
    QTimer.singleShot(SYNC_START_DELAY_MS, gui.sync.start)
    if not replica_is_current(paths.replica_path(data)):
        # First start, or a replica built by another schema version.
        gui.catalogue_preparation = prepare_catalogue(gui.catalogue, data)
        gui.catalogue_preparation.finished.connect(lambda: setattr(gui, "catalogue_preparation", None))
    app.setProperty("rxdesk_gui", gui)  # kept alive with the application
    return gui


def expire_out_of_date(ctx: ServiceContext) -> Operation | None:
    """Move prescriptions and owings past their last day to expired, off the UI thread, when someone who may see
    prescriptions signs in (the queue already leaves them out; this keeps the records and the server right)."""
    if not allowed(ctx.actor.role, Permission.VIEW_PRESCRIPTIONS):
        return None
    operation = Operation(lambda _report: expire_prescriptions(ctx), changes={PRESCRIPTIONS_CHANGED})
    operation.failed.connect(lambda error: log.error("Expiring out-of-date prescriptions failed: %s", error))
    return operation.start()


def prepare_catalogue(window: CatalogueWindow, data: Path) -> Operation:
    """First start: build the replica from the bundled demo release in a worker, with progress in the window."""
    operation = Operation(lambda report: ensure_replica(data, report), changes={CATALOGUE_CHANGED})
    operation.progressed.connect(window.show_progress)
    operation.finished.connect(window.hide_progress)
    operation.failed.connect(lambda error: window.show_unavailable(error_text(error)))
    operation.failed.connect(lambda error: show_error(window, "The medicines catalogue could not be prepared.", error))
    window.show_progress("Preparing the medicines catalogue", 0, 0)
    return operation.start()


def apply_style(app: QApplication) -> None:
    try:
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
    except OSError as exc:  # the window still works with the platform look
        log.warning("Style sheet not loaded: %s", exc)


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


def _report_unexpected(window: CatalogueWindow) -> ExceptHook:
    """An exception escaping a slot: logged with its traceback, shown to the user as one sentence."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
        else:
            show_error(window, "RxDesk could not complete that action.", error)

    return hook
