"""One sync of this workstation, its state for the status bar and the sync panel, and the background scheduler.

A sync: is the server there (health check), push the whole outbox in batches, pull every table, then check
counts and the ledger against the server and pull again what differs. It never raises for the server's or the
network's failures: they become the state (offline, needs sign-in, error with the reason) and the next sync
tries again. Local work is never blocked or lost by sync.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from appwrite.exception import AppwriteException
from sqlalchemy import func, select

from core.context import utc_now
from core.errors import RxDeskError
from core.settings import workstation_name
from core.storage.database import Database
from core.storage.models import OutboxEntry, SyncInboxItem
from sync.appwrite_api import Failure, classify, describe
from sync.checks import CheckReport, reconcile
from sync.connection import ServerSettings, read_server_settings, session_secret
from sync.pull import PullReport, pull_all
from sync.push import _first_admin, mark_attempt, next_batch, record_answers
from sync.status import SyncState, SyncStatus
from sync.transport import Transport

log = logging.getLogger(__name__)

STALL_AFTER = timedelta(seconds=30)  # pending changes not tried for this long: the watchdog starts a sync
MAX_BACKOFF = timedelta(minutes=5)


@dataclass
class SyncReport:
    pushed: dict[str, int] = field(default_factory=dict)
    pull: PullReport = field(default_factory=PullReport)
    checks: CheckReport = field(default_factory=CheckReport)


TransportFactory = Callable[[ServerSettings, str, str], Transport]
# Told at each step of a sync, after what it names is done and committed: for progress, and for tests that stop a
# sync at every step.
Step = Callable[[str], None]


class SyncEngine:
    """Runs syncs one at a time; thread-safe. ``status`` is always current."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: TransportFactory = Transport,
    ) -> None:
        self.database = database
        self.clock = clock
        self._transport = transport
        self._lock = threading.Lock()
        self._status = SyncStatus(SyncState.NOT_CONNECTED)
        self._failures = 0
        self._next_try: datetime | None = None
        self._trying: str | None = None  # digest of the session the running sync uses
        self._ended: str | None = None  # digest of the session the server answered 401 to: not tried again
        self.listeners: list[Callable[[SyncStatus], None]] = []
        self.on_step: Step = lambda _step: None
        self.refresh_status()

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def status(self) -> SyncStatus:
        return self._status

    def _set(self, **changes: object) -> None:
        counts = self._counts()
        self._status = replace(self._status, pending=counts[0], inbox=counts[1], **changes)  # type: ignore[arg-type]
        for listener in list(self.listeners):
            listener(self._status)

    def _counts(self) -> tuple[int, int]:
        with self.database.reader() as session:
            pending = session.execute(select(func.count()).where(OutboxEntry.state == "pending")).scalar_one()
            inbox = session.execute(
                select(func.count()).select_from(SyncInboxItem).where(SyncInboxItem.resolved_at.is_(None))
            ).scalar_one()
        return int(pending), int(inbox)

    def refresh_status(self) -> SyncStatus:
        """Counts and connection re-read (after local work queued changes, or a sign-in elsewhere)."""
        settings = read_server_settings(self.database)
        if settings is None:
            self._set(state=SyncState.NOT_CONNECTED, detail="No server is set up for this installation.")
        elif self._status.state in (SyncState.NOT_CONNECTED, SyncState.NEEDS_SIGN_IN) and self._usable(settings):
            self._set(state=SyncState.OFFLINE, detail=f"{settings.email} at {settings.endpoint}")
        elif self._status.state is SyncState.NOT_CONNECTED:
            self._set(state=SyncState.NEEDS_SIGN_IN, detail="Sign in to the server to sync.")
        else:
            self._set()
        return self._status

    def _usable(self, settings: ServerSettings) -> bool:
        """A session is stored, and it is not the one the server said has ended (sign-in makes a new one)."""
        secret = self._secret(settings)
        return secret is not None and _digest(secret) != self._ended

    def _secret(self, settings: ServerSettings) -> str | None:
        try:
            return session_secret(settings)
        except RxDeskError as exc:
            self._set(state=SyncState.ERROR, detail=str(exc))
            return None

    # -- scheduling ----------------------------------------------------------------------------------------------
    def due(self) -> bool:
        """A sync may run now: connected, signed in, and not waiting out a backoff after failures."""
        if self._status.state in (SyncState.NOT_CONNECTED, SyncState.NEEDS_SIGN_IN, SyncState.SYNCING):
            return False
        return self._next_try is None or self.clock() >= self._next_try

    def stalled(self) -> bool:
        """The watchdog's test: changes wait, and none has been tried for STALL_AFTER."""
        with self.database.reader() as session:
            row = session.execute(
                select(func.count(), func.max(OutboxEntry.attempted_at)).where(OutboxEntry.state == "pending")
            ).one()
        pending, last_try = int(row[0]), row[1]
        return pending > 0 and (last_try is None or self.clock() - last_try > STALL_AFTER)

    # -- one sync ------------------------------------------------------------------------------------------------
    def sync_now(self) -> SyncReport | None:
        """One whole sync; None when it could not run (the state says why)."""
        if not self._lock.acquire(blocking=False):
            return None  # one is running: it will take what is queued
        try:
            return self._sync()
        finally:
            self._lock.release()

    def _sync(self) -> SyncReport | None:
        settings = read_server_settings(self.database)
        if settings is None:
            self._set(state=SyncState.NOT_CONNECTED, detail="No server is set up for this installation.")
            return None
        secret = self._secret(settings)
        if secret is None:
            if self._status.state is not SyncState.ERROR:
                self._set(state=SyncState.NEEDS_SIGN_IN, detail="Sign in to the server to sync.")
            return None
        self._trying = _digest(secret)
        if self._trying == self._ended:  # paused until someone signs in again: nothing is sent with a dead session
            self._set(state=SyncState.NEEDS_SIGN_IN)
            return None
        transport = self._transport(settings, secret, workstation_name(self.database))
        if not transport.online():
            self._backoff()
            self._set(state=SyncState.OFFLINE, detail=f"{settings.endpoint} does not answer.")
            return None
        self._set(state=SyncState.SYNCING, detail="")
        report = SyncReport()
        try:
            transport.check_session()
            self.on_step("session checked")
            self._push(transport, report)
            report.pull = pull_all(self.database, settings.team, transport.list_rows, self.clock, self._page_done)
            with self.database.reader() as session:
                fallback = _first_admin(session)
            report.checks = reconcile(
                self.database, settings.team, transport.summary(), transport.list_rows, fallback, self.clock
            )
            self.on_step("checked against the server")
            if report.checks.mismatched:
                if report.checks.requeued:
                    self._push(transport, report)
                report.pull = pull_all(self.database, settings.team, transport.list_rows, self.clock, self._page_done)
        except AppwriteException as exc:
            self._failed(exc)
            return None
        except Exception as exc:
            # This workstation's side failed (its database locked past the busy timeout, the disk full): never
            # left "syncing", which is never due again, but an error backed off like any other; the caller hears.
            self._backoff()
            self._set(state=SyncState.ERROR, detail=str(exc) if isinstance(exc, RxDeskError) else "The sync stopped.")
            raise
        self._failures = 0
        self._next_try = None
        self._set(state=SyncState.UP_TO_DATE, detail=f"{settings.email} at {settings.endpoint}", last_sync=self.clock())
        log.info("sync: pushed %s, pulled %d, checks %s", report.pushed, report.pull.merged, report.checks.mismatched)
        return report

    def _push(self, transport: Transport, report: SyncReport) -> None:
        while batch := next_batch(self.database):
            self.on_step(f"sending {len(batch)} changes")
            try:
                answers = transport.push([p.op for p in batch])
            except AppwriteException as exc:
                mark_attempt(self.database, batch, describe(exc), self.clock())
                raise
            self.on_step(f"answered {len(batch)} changes")
            for status, n in record_answers(self.database, batch, answers, self.clock()).items():
                report.pushed[status] = report.pushed.get(status, 0) + n
            self.on_step(f"recorded {len(batch)} answers")

    def _page_done(self, table: str, rows: int) -> None:
        self.on_step(f"took {rows} {table} rows")

    def _failed(self, exc: AppwriteException) -> None:
        kind = classify(exc)
        if kind is Failure.SIGN_IN:
            self._ended = self._trying
            self._set(state=SyncState.NEEDS_SIGN_IN, detail="The server session has ended: sign in again.")
            return
        self._backoff()
        self._set(state=SyncState.ERROR, detail=describe(exc))

    def _backoff(self) -> None:
        self._failures += 1
        delay = min(MAX_BACKOFF, timedelta(seconds=2 ** min(self._failures, 9)))
        self._next_try = self.clock() + delay


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SyncScheduler:
    """Syncs in a background thread: every ``interval`` when due, at once when asked (sync now), and whenever the
    watchdog finds a stalled queue. The desktop app shows ``engine.status``; nothing here knows of Qt."""

    def __init__(self, engine: SyncEngine, interval: timedelta = timedelta(seconds=60), tick_s: float = 5.0) -> None:
        self.engine = engine
        self.interval = interval
        self.tick_s = tick_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last: datetime | None = None
        self._thread = threading.Thread(target=self._run, name="rxdesk-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def sync_soon(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Ask the thread to end and wait up to ``timeout_s``; whether it has ended (a sync in progress finishes its
        request first)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            now = self.engine.clock()
            interval_passed = self._last is None or now - self._last >= self.interval
            try:
                if asked:
                    self.engine.refresh_status()
                if asked or (self.engine.due() and (interval_passed or self.engine.stalled())):
                    self._last = now
                    self.engine.sync_now()
            except RxDeskError as exc:  # the local database (disk full, locked): shown, retried next tick
                log.warning("sync: %s", exc)
