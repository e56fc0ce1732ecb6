"""The Admin workspace: users, organisation details, token accounts, the catalogue, the audit log and sync, one
tab each (Alt+1 … Alt+6)."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from core.context import ServiceContext
from core.errors import RxDeskError
from core.outbox import outbox_counts
from core.users.roles import Permission, allowed
from desktop.admin_audit import AuditPanel
from desktop.admin_catalogue import CataloguePanel
from desktop.admin_organisation import OrganisationPanel
from desktop.admin_tokens import TokensPanel
from desktop.admin_users import UsersPanel
from desktop.catalogue_window import CatalogueWindow


class SyncPanel(QWidget):
    """A placeholder until sync with the server lands: what is queued for it on this workstation."""

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("adminSync")
        heading = QLabel("Sync with the RxDesk server")
        heading.setObjectName("counterTitle")
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    def refresh(self) -> None:
        try:
            counts = outbox_counts(self.ctx)
        except RxDeskError as exc:
            self.status.setText(str(exc))
            return
        pending = counts.get("pending", 0)
        self.status.setText(
            "This workstation works offline. Sync is not set up yet: every change is kept here and queued for the "
            f"server, nothing is lost.\n\nChanges waiting to be sent: {pending:,}."
        )


class AdminWorkspace(QTabWidget):
    def __init__(self, ctx: ServiceContext, catalogue: CatalogueWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("adminWorkspace")
        self.users = UsersPanel(ctx)
        self.organisation = OrganisationPanel(ctx)
        self.addTab(self.users, "&Users")
        self.addTab(self.organisation, "&Organisation")
        self.tokens: TokensPanel | None = None
        if allowed(ctx.actor.role, Permission.VIEW_TOKENS):
            self.tokens = TokensPanel(ctx)
            self.addTab(self.tokens, "&Tokens")
        self.catalogue: CataloguePanel | None = None
        if allowed(ctx.actor.role, Permission.MANAGE_CATALOGUE):
            self.catalogue = CataloguePanel(ctx, catalogue.replica)
            self.addTab(self.catalogue, "&Catalogue")
        self.audit: AuditPanel | None = None
        if allowed(ctx.actor.role, Permission.VIEW_AUDIT):
            self.audit = AuditPanel(ctx)
            self.addTab(self.audit, "&Audit log")
        self.sync = SyncPanel(ctx)
        self.addTab(self.sync, "&Sync")
        for index in range(self.count()):
            shortcut = QShortcut(QKeySequence(f"Alt+{index + 1}"), self)
            shortcut.activated.connect(lambda index=index: self.setCurrentIndex(index))

    def titles(self) -> list[str]:
        return [self.tabText(i).replace("&", "") for i in range(self.count())]
