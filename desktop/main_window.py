"""The window after sign-in: one tab per workspace the user's role may use; the status bar shows sync, the
catalogue, tokens and the signed-in user. The sync indicator's click (or Ctrl+Shift+S) opens Admin → Sync for an
admin, and sync's details (with signing in to the server again) for anyone else.

Workspaces: Prescribe (prescribers), Counter (pharmacists and technicians), Patients (roles that may see
patients), Medicines (everyone), Admin (admins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QWidget

from core.context import ServiceContext
from core.users.roles import Permission, allowed
from desktop.admin_workspace import AdminWorkspace
from desktop.catalogue_window import CatalogueWindow
from desktop.counter_workspace import CounterWorkspace
from desktop.icons import icon
from desktop.patients_panel import PatientsPanel
from desktop.prescribe_panel import PrescribePanel
from desktop.status_indicators import StatusIndicators
from desktop.sync_dialogs import SyncDetailsDialog
from desktop.sync_runner import SyncRunner


@dataclass(frozen=True)
class Workspace:
    title: str
    permission: Permission | None  # None: every role
    make: Callable[[ServiceContext, CatalogueWindow, SyncRunner | None], QWidget]
    icon: str  # resources/icons/<icon>.svg


def _medicines(_ctx: ServiceContext, catalogue: CatalogueWindow, _sync: SyncRunner | None) -> QWidget:
    return catalogue


def _counter(ctx: ServiceContext, catalogue: CatalogueWindow, _sync: SyncRunner | None) -> QWidget:
    return CounterWorkspace(ctx, lambda: catalogue.catalogue)


def _prescribe(ctx: ServiceContext, catalogue: CatalogueWindow, _sync: SyncRunner | None) -> QWidget:
    return PrescribePanel(ctx, lambda: catalogue.catalogue)


def _patients(ctx: ServiceContext, _catalogue: CatalogueWindow, _sync: SyncRunner | None) -> QWidget:
    return PatientsPanel(ctx)


WORKSPACES = (
    Workspace("Prescribe", Permission.PRESCRIBE, _prescribe, "prescribe"),
    Workspace("Counter", Permission.ASSEMBLE, _counter, "counter"),
    Workspace("Patients", Permission.VIEW_PATIENTS, _patients, "patients"),
    Workspace("Medicines", None, _medicines, "medicines"),
    Workspace("Admin", Permission.MANAGE_USERS, AdminWorkspace, "admin"),
)


class MainWindow(QMainWindow):
    signed_out = Signal()

    def __init__(
        self,
        ctx: ServiceContext,
        catalogue: CatalogueWindow,
        sync: SyncRunner | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.catalogue = catalogue
        self.sync = sync
        self.sync_details: SyncDetailsDialog | None = None
        self.setObjectName("mainWindow")
        self.setWindowTitle(f"RxDesk: {ctx.actor.full_name}")
        self.resize(1280, 800)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for workspace in WORKSPACES:
            if workspace.permission is None or allowed(ctx.actor.role, workspace.permission):
                self.tabs.addTab(workspace.make(ctx, catalogue, sync), icon(workspace.icon), workspace.title)
        self.setCentralWidget(self.tabs)
        self.indicators = StatusIndicators(self.statusBar(), ctx, lambda: catalogue.catalogue, sync)
        if self.indicators.sync is not None:
            self.indicators.sync.clicked.connect(self.show_sync)
        user = QLabel(f"Signed in: {ctx.actor.full_name} ({ctx.actor.role.value})")
        user.setObjectName("userLabel")
        self.statusBar().addPermanentWidget(user)
        sign_out = QAction("Sign out", self)  # a menu bar shows only the icon of an action that has one
        sign_out.setShortcut(QKeySequence("Ctrl+L"))
        sign_out.triggered.connect(self.sign_out)
        self.menuBar().addAction(sign_out)

    def titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def workspace(self, title: str) -> QWidget:
        """The workspace with that tab title (KeyError if the role has none)."""
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == title:
                return self.tabs.widget(i)
        raise KeyError(title)

    def show_sync(self) -> QWidget | None:
        """Admin → Sync for an admin; sync's details (and signing in to the server again) for anyone else."""
        if self.sync is None:
            return None
        try:
            admin = self.workspace("Admin")
        except KeyError:
            if self.sync_details is None:
                self.sync_details = SyncDetailsDialog(self, self.sync, self.ctx)
            self.sync_details.refresh()
            self.sync_details.show()
            self.sync_details.raise_()
            self.sync_details.activateWindow()
            return self.sync_details
        assert isinstance(admin, AdminWorkspace)
        self.tabs.setCurrentWidget(admin)
        admin.setCurrentWidget(admin.sync)
        admin.sync.setFocus()
        return admin.sync

    def sign_out(self) -> None:
        # The catalogue view outlives a session (it may be building the catalogue): hand it back before closing.
        index = self.tabs.indexOf(self.catalogue)
        if index >= 0:
            self.tabs.removeTab(index)
            self.catalogue.setParent(None)
        self.indicators.disconnect()
        self.signed_out.emit()
        self.close()
        self.deleteLater()
