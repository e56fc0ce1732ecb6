"""``rxdesk --kiosk``: one full-screen, frameless window for the life of the app, showing one workspace.

Its pages: the sign-in screen (with the on-screen keypad), the session (a bar with sync's state, the user, Lock,
Sign out and Exit kiosk over the one workspace), and the lock screen. After N idle minutes (``core.kiosk``: a
workstation setting, 5 by default) the session locks, and dialogs open over it close, so nothing of a patient stays
on show.
Signing out comes back to the kiosk's sign-in screen, never to the desktop: the window refuses to close (Alt+F4,
the window manager) until an admin's PIN or password has let the kiosk go (``desktop.exit_kiosk``); then
``exited`` is emitted and the app quits. Scanner first: after signing in, unlocking or dispensing the focus is where
a scan or a search is expected, and the bar's buttons never take it.

Touch targets of at least 44 px come from the ``kiosk`` property on this window (resources/style.qss).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext, utc_now
from core.kiosk import KioskSettings
from core.storage.database import Database
from core.users.roles import allowed
from desktop.catalogue_window import CatalogueWindow
from desktop.exit_kiosk import ExitKioskDialog
from desktop.icons import icon
from desktop.idle_lock import IdleWatcher
from desktop.lock_screen import LockScreen
from desktop.main_window import WORKSPACES, Workspace
from desktop.sign_in import SignInWindow
from desktop.sync_dialogs import SyncDetailsDialog
from desktop.sync_indicator import SyncIndicator
from desktop.sync_runner import SyncRunner

TOUCH_ROW_HEIGHT = 48  # table rows a finger can pick


def kiosk_workspace_row(settings: KioskSettings) -> Workspace:
    """The row of ``main_window.WORKSPACES`` the kiosk shows (the workspace named by the setting)."""
    for workspace in WORKSPACES:
        if workspace.title.lower() == settings.workspace.value:
            return workspace
    raise LookupError(f"No {settings.workspace.value} workspace in this version of RxDesk.")


class KioskWindow(QWidget):
    exited = Signal()  # an admin let the kiosk go

    def __init__(
        self,
        sign_in: SignInWindow,
        catalogue: CatalogueWindow,
        database: Database,
        workstation: str,
        settings: KioskSettings,
        sync: SyncRunner | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("kioskWindow")
        self.setProperty("kiosk", True)  # before any widget is polished: the kiosk rules of style.qss apply
        self.setWindowTitle("RxDesk")
        self.sign_in = sign_in
        self.catalogue = catalogue
        self.database = database
        self.workstation = workstation
        self.settings = settings
        self.sync = sync
        self.sync_details: SyncDetailsDialog | None = None
        self.workspace_row = kiosk_workspace_row(settings)
        self.ctx: ServiceContext | None = None
        self.workspace: QWidget | None = None
        self.exit_dialog: ExitKioskDialog | None = None
        self._may_close = False

        self.pages = QStackedWidget()
        self.sign_in_page = self._sign_in_page()
        self.session_page = QWidget()
        self.session_page.setObjectName("kioskSession")
        self._session_layout = QVBoxLayout(self.session_page)
        self._session_layout.setContentsMargins(0, 0, 0, 0)
        self._session_layout.addWidget(self._session_bar())
        self.lock_screen = LockScreen(database, workstation)
        for page in (self.sign_in_page, self.session_page, self.lock_screen):
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        self.idle = IdleWatcher(settings.idle_lock_minutes, self)
        self.idle.idle.connect(self._idle)
        self.lock_screen.unlocked.connect(self.unlock)
        self.lock_screen.someone_else.connect(self.sign_out)
        QShortcut(QKeySequence("Ctrl+L"), self.session_page, self.lock)
        self.pages.setCurrentWidget(self.sign_in_page)
        self.idle.start()

    # -- pages -----------------------------------------------------------------------------------------------
    def _sign_in_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("kioskSignIn")
        self.sign_in.setMaximumWidth(560)
        self.sign_in_exit_button = self._bar_button("Exit kiosk", "Leave the kiosk: needs an admin")
        self.sign_in_exit_button.clicked.connect(self.request_exit)
        corner = QHBoxLayout()
        corner.addStretch(1)
        corner.addWidget(self.sign_in_exit_button)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.sign_in, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        layout.addLayout(corner)
        return page

    def _session_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("kioskBar")
        self.bar_title = QLabel(f"RxDesk · {self.workspace_row.title}")
        self.bar_title.setObjectName("kioskTitle")
        self.user_label = QLabel()
        self.user_label.setObjectName("userLabel")
        self.sync_indicator: SyncIndicator | None = None
        if self.sync is not None:
            self.sync_indicator = SyncIndicator(self.sync)
            self.sync_indicator.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the focus stays where scans are expected
            self.sync_indicator.clicked.connect(self.show_sync)
        self.lock_button = self._bar_button("Lock", "Lock the screen until your PIN is typed (Ctrl+L)")
        self.lock_button.setIcon(icon("lock"))
        self.sign_out_button = self._bar_button("Sign out", "Sign out; the next person signs in here")
        self.sign_out_button.setIcon(icon("sign-out"))
        self.exit_button = self._bar_button("Exit kiosk", "Leave the kiosk: needs an admin")
        self.lock_button.clicked.connect(self.lock)
        self.sign_out_button.clicked.connect(self.sign_out)
        self.exit_button.clicked.connect(self.request_exit)
        row = QHBoxLayout(bar)
        row.setContentsMargins(12, 6, 12, 6)
        row.addWidget(self.bar_title)
        row.addStretch(1)
        if self.sync_indicator is not None:
            row.addWidget(self.sync_indicator)
        row.addWidget(self.user_label)
        row.addWidget(self.lock_button)
        row.addWidget(self.sign_out_button)
        row.addWidget(self.exit_button)
        return bar

    def _bar_button(self, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the focus stays where scans are expected
        return button

    def current_page(self) -> str:
        return {self.sign_in_page: "sign in", self.session_page: "session", self.lock_screen: "locked"}[
            self.pages.currentWidget()
        ]

    # -- the session -----------------------------------------------------------------------------------------
    def start_session(self, ctx: ServiceContext) -> bool:
        """Show the kiosk's workspace for this user; False (said on the sign-in screen) if their role has none."""
        permission = self.workspace_row.permission
        if permission is not None and not allowed(ctx.actor.role, permission):
            self.sign_in.show_error(
                f"This kiosk is for the {self.workspace_row.title.lower()}: a {ctx.actor.role.value} cannot use it."
            )
            return False
        self._end_workspace()
        self.ctx = ctx
        self.workspace = self.workspace_row.make(ctx, self.catalogue, self.sync)
        self._session_layout.addWidget(self.workspace, 1)
        self.workspace.show()  # now, not when the layout gets round to it: the focus goes into it below
        self._fit_for_touch(self.workspace)
        self.user_label.setText(f"{ctx.actor.full_name} ({ctx.actor.role.value})")
        self.pages.setCurrentWidget(self.session_page)
        self.focus_for_scanning()
        self.idle.start()
        return True

    def _fit_for_touch(self, workspace: QWidget) -> None:
        for view in workspace.findChildren(QAbstractItemView):
            header = getattr(view, "verticalHeader", None)
            if header is not None:
                header().setMinimumSectionSize(TOUCH_ROW_HEIGHT)
                header().setDefaultSectionSize(TOUCH_ROW_HEIGHT)

    def focus_for_scanning(self) -> None:
        """Where a scan or a search is expected: the workspace's search box."""
        if self.workspace is None:
            return
        search = self.workspace.findChild(QLineEdit, "searchBox")
        (search or self.workspace).setFocus()

    def _end_workspace(self) -> None:
        workspace, self.workspace = self.workspace, None
        if workspace is None:
            return
        self._session_layout.removeWidget(workspace)
        if workspace is self.catalogue:  # it outlives sessions (it may be building the catalogue)
            workspace.setParent(None)
        else:
            workspace.deleteLater()

    def sign_out(self) -> None:
        self._close_dialogs()
        self._end_workspace()
        self.ctx = None
        self.sign_in.username.clear()
        self.sign_in.secret.clear()
        self.pages.setCurrentWidget(self.sign_in_page)
        self.sign_in.username.setFocus()

    def show_sync(self) -> SyncDetailsDialog | None:
        """Sync's details over the session (closed when the kiosk locks, like any dialog)."""
        if self.sync is None:
            return None
        if self.sync_details is not None:
            self.sync_details.deleteLater()  # made for the user of its time
        self.sync_details = SyncDetailsDialog(self, self.sync, self.ctx)
        self.sync_details.open()
        return self.sync_details

    # -- locking ---------------------------------------------------------------------------------------------
    def _idle(self) -> None:
        if self.current_page() == "session":
            self.lock()
        elif self.current_page() == "sign in":
            self.sign_in.secret.clear()  # nothing half-typed left for the next person
            self.idle.start()

    def lock(self) -> None:
        if self.ctx is None:
            return
        self._close_dialogs()
        self.lock_screen.lock(self.ctx)
        self.pages.setCurrentWidget(self.lock_screen)

    def unlock(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.pages.setCurrentWidget(self.session_page)
        self.focus_for_scanning()
        self.idle.start()

    def _close_dialogs(self) -> None:
        for dialog in self.findChildren(QDialog):
            if dialog.isVisible():
                dialog.reject()

    # -- leaving -----------------------------------------------------------------------------------------------
    def request_exit(self) -> ExitKioskDialog:
        dialog = ExitKioskDialog(self, self.database, self.workstation, self.ctx.clock if self.ctx else utc_now)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.accepted.connect(self.leave)
        self.exit_dialog = dialog
        dialog.open()
        return dialog

    def leave(self) -> None:
        """The admin's exit was recorded: close for good."""
        self._may_close = True
        self.idle.stop()
        self._end_workspace()
        self.close()
        self.exited.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._may_close:
            super().closeEvent(event)
        else:
            event.ignore()  # only an admin lets the kiosk go (Exit kiosk)
