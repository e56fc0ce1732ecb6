"""What the sync engine tells the app: its state and counts (kept apart from the engine, so that showing them
loads nothing of the Appwrite SDK: the desktop app's start stays quick)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SyncState(StrEnum):
    NOT_CONNECTED = "not connected"  # no server set up for this installation
    NEEDS_SIGN_IN = "needs sign-in"
    OFFLINE = "offline"
    SYNCING = "syncing"
    UP_TO_DATE = "up to date"
    ERROR = "error"


@dataclass(frozen=True)
class SyncStatus:
    state: SyncState
    detail: str = ""  # why, for the panel: the last error, or who is signed in where
    last_sync: datetime | None = None  # the last sync that completed
    pending: int = 0  # changes waiting to be sent
    inbox: int = 0  # rejected or conflicting changes nobody has dealt with yet
