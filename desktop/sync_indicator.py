"""Sync as the status bar (and the kiosk's bar) shows it: one short state, the detail in the tooltip, a click (or
Ctrl+Shift+S) for more. The words for each state live here too, shared with the sync panel and dialogs."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QToolButton, QWidget

from core.documents.formatting import format_uk_datetime
from desktop.sync_runner import SyncRunner
from sync.status import SyncState, SyncStatus

SHORTCUT = "Ctrl+Shift+S"
REFRESH_MS = 30_000  # "Synced 2 min ago" moves on by itself

STATE_NAMES = {
    SyncState.NOT_CONNECTED: "Not connected",
    SyncState.NEEDS_SIGN_IN: "Needs sign-in",
    SyncState.OFFLINE: "Offline",
    SyncState.SYNCING: "Syncing",
    SyncState.UP_TO_DATE: "Up to date",
    SyncState.ERROR: "Error",
}


def ago(then: datetime, now: datetime) -> str:
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    return f"on {format_uk_datetime(then)}"


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def short_text(status: SyncStatus | None, now: datetime) -> str:
    """The status bar's words: "Synced 2 min ago", "Syncing…", "Offline — 3 waiting", "Sign in to sync"."""
    if status is None:
        return "Sync starting…"
    state = status.state
    if state is SyncState.UP_TO_DATE:
        text = f"Synced {ago(status.last_sync, now)}" if status.last_sync else "Synced"
    elif state is SyncState.SYNCING:
        text = "Syncing…"
    elif state is SyncState.OFFLINE:
        text = "Offline" + (f" — {status.pending:,} waiting" if status.pending else "")
    elif state is SyncState.NEEDS_SIGN_IN:
        text = "Sign in to sync"
    elif state is SyncState.ERROR:
        text = "Sync error"
    else:
        text = "Not connected"
    if status.inbox:
        text += f" · {status.inbox:,} to review"
    return text


def counts_text(status: SyncStatus) -> str:
    waiting = plural(status.pending, "change") + " waiting to be sent"
    inbox = plural(status.inbox, "change") + " in the sync inbox" if status.inbox else "nothing in the sync inbox"
    return f"{waiting}; {inbox}."


def last_sync_text(status: SyncStatus | None, now: datetime) -> str:
    if status is None or status.last_sync is None:
        return "Not since RxDesk started"
    return f"{format_uk_datetime(status.last_sync)} ({ago(status.last_sync, now)})"


def long_text(status: SyncStatus | None, now: datetime) -> str:
    """The tooltip: the state and why, the last sync, what waits."""
    if status is None:
        return "Sync is starting."
    lines = [f"Sync: {STATE_NAMES[status.state].lower()}"]
    if status.detail:
        lines.append(status.detail)
    lines.append(f"Last sync: {last_sync_text(status, now)}")
    lines.append(counts_text(status))
    return "\n".join(lines)


class SyncIndicator(QToolButton):
    """Shows ``runner``'s status; ``clicked`` (or the shortcut) is for its owner to open the panel or details."""

    def __init__(self, runner: SyncRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.setObjectName("syncIndicator")
        self.setAutoRaise(True)
        self.setAccessibleName("Sync status")
        self.setShortcut(QKeySequence(SHORTCUT))
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        runner.status_changed.connect(self.refresh)
        runner.step_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        status, now = self.runner.status, self.runner.clock()
        self.setText(f"● {short_text(status, now)}")
        tip = long_text(status, now)
        if self.runner.step:
            tip += f"\nNow: {self.runner.step}"
        tip += f"\n{SHORTCUT} or click for more."
        self.setToolTip(tip)
        self.setAccessibleDescription(tip)
        state = status.state.value.replace(" ", "-") if status is not None else "starting"
        if self.property("syncState") != state:
            self.setProperty("syncState", state)
            self.style().unpolish(self)  # a dynamic property changes the style only once re-polished
            self.style().polish(self)
