"""What the status bar always shows: sync (desktop.sync_indicator), the catalogue release in use and the token
balance, with a card top-up paid here and not arrived yet ("Tokens: 120 (+100 pending)"). A prescriber whose
tokens are their own account (not the clinic's pool, which the clinic admin tops up in Admin → Tokens) gets a "Top
up…" button beside it on a workstation that syncs (card payments go through the server).

Sync follows the app's sync runner; the others are refreshed when an operation announces a change to them
(desktop.topics), never polled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar

from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from core.tokens.balance import TokenBalance, prescriber_balance
from core.tokens.ledger import synced_installation
from core.tokens.top_ups import pending_top_up_tokens
from core.users.roles import Permission, Role, allowed
from desktop.admin_tokens import balance_text
from desktop.catalogue_window import CATALOGUE_CHANGED
from desktop.detail_html import format_date
from desktop.operation import change_notifier
from desktop.sync_indicator import SyncIndicator
from desktop.sync_runner import SyncRunner
from desktop.topics import TOKENS_CHANGED

if TYPE_CHECKING:  # imported when first opened: it brings the Appwrite SDK (half a second)
    from desktop.top_up_dialog import TopUpDialog


class StatusIndicators:
    def __init__(
        self,
        bar: QStatusBar,
        ctx: ServiceContext,
        catalogue: Callable[[], Catalogue | None],
        sync: SyncRunner | None = None,
    ) -> None:
        self.ctx = ctx
        self.catalogue = catalogue
        self.sync = SyncIndicator(sync) if sync is not None else None  # none in a window without the app's sync
        self.release = QLabel()
        self.release.setObjectName("releaseLabel")
        self.release.setAccessibleName("Catalogue release")
        self.tokens = QLabel()
        self.tokens.setObjectName("tokensLabel")
        self.tokens.setAccessibleName("Token balance")
        self.top_up = QPushButton("Top up…")
        self.top_up.setObjectName("topUpButton")
        self.top_up.setFlat(True)
        self.top_up.setAccessibleName("Top up my tokens by card")
        self.top_up.setToolTip("Buy a token pack for your own account by card")
        self.top_up.hide()
        self.top_up.clicked.connect(self.open_top_up)
        self.top_up_dialog: TopUpDialog | None = None
        self.balance: TokenBalance | None = None
        self.bar = bar
        if self.sync is not None:
            bar.addPermanentWidget(self.sync)
        for widget in (self.release, self.tokens, self.top_up):
            bar.addPermanentWidget(widget)
        self.refresh_release()
        self.refresh_tokens()
        change_notifier().changed.connect(self._on_changes)

    def disconnect(self) -> None:
        with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
            change_notifier().changed.disconnect(self._on_changes)

    def _on_changes(self, topics: frozenset[str]) -> None:
        if CATALOGUE_CHANGED in topics:
            self.refresh_release()
        if TOKENS_CHANGED in topics:
            self.refresh_tokens()

    def refresh_release(self) -> None:
        catalogue = self.catalogue()
        if catalogue is None:
            self.release.setText("Catalogue: being prepared")
            return
        info = catalogue.release()
        released = f" ({format_date(info.release_date)})" if info.release_date else ""
        self.release.setText(f"Catalogue {info.version or info.name}{released}")
        self.release.setToolTip(f"dm+d release {info.name}, built {info.built_at}")

    def refresh_tokens(self) -> None:
        if not allowed(self.ctx.actor.role, Permission.VIEW_TOKENS):
            self.tokens.hide()
            return
        try:
            self.balance = balance = prescriber_balance(self.ctx)
            on_its_way = pending_top_up_tokens(self.ctx, balance.account_id) if balance is not None else 0
            self.top_up.setVisible(self._may_top_up(balance))
        except RxDeskError as exc:
            self.tokens.setText("Tokens: unavailable")
            self.tokens.setToolTip(str(exc))
            return
        if balance is None:
            self.tokens.setText("Tokens: no account")
            self.tokens.setToolTip("There is no token account for you or your clinic: ask your clinic admin.")
            return
        self.tokens.setText(balance_text(balance.available, on_its_way))
        pending = f", of which {balance.pending} not yet confirmed by the server" if balance.pending else ""
        paid = f"; {on_its_way} paid by card here and on their way from the server" if on_its_way else ""
        self.tokens.setToolTip(
            f"{balance.account_name}: {balance.available} tokens available{pending}{paid}; "
            f"overdraft limit {balance.overdraft_limit}."
        )

    def _may_top_up(self, balance: TokenBalance | None) -> bool:
        """A prescriber's own account, on a workstation that syncs (the server takes the payment)."""
        return (
            balance is not None
            and balance.owner_kind == "user"
            and self.ctx.actor.role is Role.PRESCRIBER
            and synced_installation(self.ctx)
        )

    def open_top_up(self) -> TopUpDialog | None:
        balance = self.balance
        if balance is None or not self._may_top_up(balance):
            return None
        from desktop.top_up_dialog import TopUpDialog

        dialog = TopUpDialog(self.bar.window(), self.ctx, balance.account_id, balance.account_name)
        self.top_up_dialog = dialog
        dialog.open()
        return dialog
