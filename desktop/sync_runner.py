"""The application's one sync engine and its background scheduler (sync.engine), and their news on the UI thread.

``SyncRunner(database)`` lives as long as the app's database. ``start()`` makes the engine off the UI thread (it
reads the keyring) and starts the scheduler's thread, which syncs every minute when due, at once when asked
(``sync_now()``, the Sync now button) and when the watchdog finds changes waiting. ``stop()`` ends that thread
before the database closes: a sync in progress stops at its next step (each step is committed when it is told, so
the next start goes on from there). Nothing here syncs on the UI thread.

The engine tells its listeners of each new status, and ``on_step`` of each step, in the sync thread. Those calls
only put the news on a queue and emit an argument-less queued signal (no Python object rides a cross-thread signal:
see desktop.operation); the UI thread then takes the news in order and emits ``status_changed`` and
``step_changed`` for widgets. Local work announced on the change notifier (desktop.topics.LOCAL_WORK) asks for a
sync soon; each completed sync announces what it may have brought from the server (desktop.topics.FROM_SERVER).
"""

from __future__ import annotations

import contextlib
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core.context import utc_now
from core.errors import RxDeskError
from core.storage.database import Database
from desktop.messages import error_text
from desktop.operation import Operation, change_notifier
from desktop.topics import FROM_SERVER, LOCAL_WORK
from sync.status import SyncState, SyncStatus

if TYPE_CHECKING:
    from sync.engine import SyncEngine, SyncScheduler

log = logging.getLogger(__name__)

INTERVAL = timedelta(seconds=60)
TICK_S = 5.0
STOP_TIMEOUT_S = 10.0  # a request in flight ends by its own timeout; the app does not wait longer than this


class SyncStopped(RxDeskError):
    """Raised at a sync's next step once RxDesk is closing (the scheduler logs it and ends)."""

    def __init__(self) -> None:
        super().__init__("RxDesk is closing: sync stops here and goes on at the next start.")


def _stop_at_step(_step: str) -> None:
    raise SyncStopped()


@dataclass(frozen=True)
class Problem:
    """The last thing that stopped a sync, for the sync panel."""

    at: datetime
    state: SyncState
    detail: str


class SyncRunner(QObject):
    status_changed = Signal(object)  # SyncStatus, on the UI thread
    step_changed = Signal(str)  # what the running sync is doing ("" when none runs), on the UI thread
    _posted = Signal()  # from the sync thread: news to read

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
        interval: timedelta = INTERVAL,
        tick_s: float = TICK_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.clock = clock
        self.interval = interval
        self.tick_s = tick_s
        self.engine: SyncEngine | None = None
        self.scheduler: SyncScheduler | None = None
        self.status: SyncStatus | None = None  # None until the engine is made
        self.step = ""
        self.last_problem: Problem | None = None
        self._news: queue.SimpleQueue[SyncStatus | str | Problem] = queue.SimpleQueue()  # from the sync thread
        self._heard_state: SyncState | None = None  # the last state the sync thread told of
        self._announcing = False  # announcing what a sync brought (not local work: no sync for it)
        self._starting: Operation | None = None
        self._stopped = False
        self._posted.connect(self._read_news, Qt.ConnectionType.QueuedConnection)

    # -- life ----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Make the engine in a worker (it reads the settings and the keyring), then start the scheduler."""
        if self._starting is not None or self.engine is not None or self._stopped:
            return
        database, clock = self.database, self.clock
        operation = Operation(lambda _report: _make_engine(database, clock))
        operation.succeeded.connect(self._begin)
        operation.failed.connect(self._not_begun)
        self._starting = operation.start()

    @property
    def running(self) -> bool:
        return self.scheduler is not None

    def _begin(self, engine: SyncEngine) -> None:
        self._starting = None
        if self._stopped:
            return
        self.engine = engine
        engine.listeners.append(self._heard)
        engine.on_step = self._heard_step
        self._show(engine.status)
        from sync.engine import SyncScheduler  # loaded with the engine, off the UI thread (see _make_engine)

        self.scheduler = SyncScheduler(engine, self.interval, self.tick_s)
        self.scheduler.start()
        self.scheduler.sync_soon()  # the state is known at once, not after the first interval
        change_notifier().changed.connect(self._on_changes)

    def _not_begun(self, error: BaseException) -> None:
        """The engine could not be made (the app database could not be read): shown as a sync error."""
        self._starting = None
        text = f"Sync could not start: {error_text(error)} Restart RxDesk to try again."
        log.error("%s", text)
        self.last_problem = Problem(self.clock(), SyncState.ERROR, text)
        self._show(SyncStatus(SyncState.ERROR, text))

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """End the sync thread: a sync in progress stops at its next step, after the request it waits on. False if
        the thread is still running after ``timeout_s`` (a daemon thread: it ends with the process)."""
        self._stopped = True
        engine, scheduler = self.engine, self.scheduler
        if scheduler is not None:  # listening since _begin
            with contextlib.suppress(RuntimeError, TypeError):
                change_notifier().changed.disconnect(self._on_changes)
        self.scheduler = None
        if engine is not None:
            with contextlib.suppress(ValueError):
                engine.listeners.remove(self._heard)
            engine.on_step = _stop_at_step
        if scheduler is None:
            return True
        if not scheduler.stop(timeout_s):
            log.warning("Sync was still waiting for the server when RxDesk closed; it will try again next time.")
            return False
        return True

    # -- asking ------------------------------------------------------------------------------------------------
    def sync_now(self) -> None:
        """A sync as soon as the sync thread is free (now, or right after the one running)."""
        if self.scheduler is not None:
            self.scheduler.sync_soon()

    def _on_changes(self, topics: frozenset[str]) -> None:
        if topics & LOCAL_WORK and not self._announcing:
            self.sync_now()

    # -- news from the sync thread -------------------------------------------------------------------------------
    def _heard(self, status: SyncStatus) -> None:
        """In the sync thread."""
        if _stopped_a_sync(self._heard_state, status.state):
            self._news.put(Problem(self.clock(), status.state, status.detail))
        self._heard_state = status.state
        self._news.put(status)
        self._posted.emit()

    def _heard_step(self, step: str) -> None:
        """In the sync thread."""
        self._news.put(step)
        self._posted.emit()

    @Slot()
    def _read_news(self) -> None:
        while True:
            try:
                news = self._news.get_nowait()
            except queue.Empty:
                return
            if isinstance(news, Problem):
                self.last_problem = news
            elif isinstance(news, str):
                self._show_step(news)
            else:
                if news.state is not SyncState.SYNCING:
                    self._show_step("")
                self._show(news)

    def _show_step(self, step: str) -> None:
        if step != self.step:
            self.step = step
            self.step_changed.emit(step)

    def _show(self, status: SyncStatus) -> None:
        before, self.status = self.status, status
        self.status_changed.emit(status)
        synced = status.state is SyncState.UP_TO_DATE and (before is None or before.last_sync != status.last_sync)
        if synced and before is not None:
            self._announcing = True  # what a sync brought is not local work to send back
            try:
                change_notifier().changed.emit(FROM_SERVER)
            finally:
                self._announcing = False


def _stopped_a_sync(before: SyncState | None, after: SyncState) -> bool:
    """A sync was tried and failed: an error; the server not answering (offline, but not the "not tried yet" of a
    fresh start or sign-in); the session refused during a sync."""
    if after is SyncState.ERROR:
        return True
    if after is SyncState.OFFLINE:
        return before not in (None, SyncState.NOT_CONNECTED, SyncState.NEEDS_SIGN_IN)
    return after is SyncState.NEEDS_SIGN_IN and before is SyncState.SYNCING


def _make_engine(database: Database, clock: Callable[[], datetime]) -> SyncEngine:
    # Imported here, in the worker: the engine brings the Appwrite SDK, whose hundreds of models take a good part
    # of a second to load, and the sign-in window must not wait for them.
    from sync.engine import SyncEngine

    return SyncEngine(database, clock=clock)
