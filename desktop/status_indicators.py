"""What the status bar always shows: sync (desktop.sync_indicator), the catalogue release in use and the token
balance.

Sync follows the app's sync runner; the others are refreshed when an operation announces a change to them
(desktop.topics), never polled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QStatusBar

from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from core.tokens.balance import prescriber_balance
from core.users.roles import Permission, allowed
from desktop.catalogue_window import CATALOGUE_CHANGED
from desktop.detail_html import format_date
from desktop.operation import change_notifier
from desktop.sync_indicator import SyncIndicator
from desktop.sync_runner import SyncRunner
from desktop.topics import TOKENS_CHANGED


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
        if self.sync is not None:
            bar.addPermanentWidget(self.sync)
        for label in (self.release, self.tokens):
            bar.addPermanentWidget(label)
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
            balance = prescriber_balance(self.ctx)
        except RxDeskError as exc:
            self.tokens.setText("Tokens: unavailable")
            self.tokens.setToolTip(str(exc))
            return
        if balance is None:
            self.tokens.setText("Tokens: no account")
            self.tokens.setToolTip("There is no token account for you or your clinic: ask your clinic admin.")
            return
        self.tokens.setText(f"Tokens: {balance.available}")
        pending = f", of which {balance.pending} not yet confirmed by the server" if balance.pending else ""
        self.tokens.setToolTip(
            f"{balance.account_name}: {balance.available} tokens available{pending}; "
            f"overdraft limit {balance.overdraft_limit}."
        )
