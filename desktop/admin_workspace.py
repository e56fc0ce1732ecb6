"""The Admin workspace: users, organisation details, token accounts, the catalogue, the audit log and sync, one
tab each (Alt+1 … Alt+6); the sync panel is desktop.admin_sync."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QTabWidget, QWidget

from core.context import ServiceContext
from core.users.roles import Permission, allowed
from desktop.admin_audit import AuditPanel
from desktop.admin_catalogue import CataloguePanel
from desktop.admin_organisation import OrganisationPanel
from desktop.admin_sync import SyncPanel
from desktop.admin_tokens import TokensPanel
from desktop.admin_users import UsersPanel
from desktop.catalogue_window import CatalogueWindow
from desktop.sync_runner import SyncRunner


class AdminWorkspace(QTabWidget):
    def __init__(
        self,
        ctx: ServiceContext,
        catalogue: CatalogueWindow,
        sync: SyncRunner | None = None,
        parent: QWidget | None = None,
    ) -> None:
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
        self.sync = SyncPanel(ctx, sync)
        self.addTab(self.sync, "&Sync")
        for index in range(self.count()):
            shortcut = QShortcut(QKeySequence(f"Alt+{index + 1}"), self)
            shortcut.activated.connect(lambda index=index: self.setCurrentIndex(index))

    def titles(self) -> list[str]:
        return [self.tabText(i).replace("&", "") for i in range(self.count())]
