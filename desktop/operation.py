"""The one operation abstraction of the GUI: run a function off the UI thread, hear back on the UI thread.

``Operation(fn)`` runs ``fn(report)`` in a QThreadPool worker. ``report(stage, done, total)`` may be called from
the worker as often as it likes; it arrives as ``progressed`` on the UI thread. When ``fn`` returns, ``succeeded``
carries its result, then the operation's ``changes`` (topics such as ``"catalogue"``) are announced on
``change_notifier().changed`` so every view showing that data can refresh. If ``fn`` raises, ``failed`` carries
the exception instead. ``finished`` follows either way. All of these are emitted on the UI thread.

Cancelling is cooperative: ``cancel()`` (on the UI thread) sets a flag, and the next ``report`` call in the worker
raises ``OperationCancelled`` instead of reporting; ``fn`` lets it propagate (cleaning up on the way out, as any
exception would make it), and ``cancelled`` is emitted instead of ``failed``. A function that is past its last
``report`` when asked finishes normally and ``succeeded`` follows: what it did is done.

The worker never holds a reference to the Operation (or to whatever its slots capture): only the UI thread does,
through ``_running``. Otherwise the worker could drop the last reference and a QObject (even a window) would be
destroyed on the wrong thread.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot

Report = Callable[[str, int, int], None]  # (stage, done, total): the shape of core.dmd.build.Progress


class OperationCancelled(Exception):
    """Raised by ``report`` in the worker once the operation was asked to stop."""

    def __init__(self) -> None:
        super().__init__("The operation was cancelled.")


class ChangeNotifier(QObject):
    """Announces which kinds of data changed (a frozenset of topic names) after an operation succeeded."""

    changed = Signal(object)


class Operation(QObject):
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    progressed = Signal(str, object, object)  # object: byte counts can exceed a C int
    cancelled = Signal()  # instead of failed, when fn stopped because cancel() was called
    finished = Signal()

    def __init__(
        self, fn: Callable[[Report], Any], *, changes: Iterable[str] = (), parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._fn: Callable[[Report], Any] | None = fn
        self._changes = frozenset(changes)
        self._stop = threading.Event()  # shared with the worker: the only thing of this object it holds

    def cancel(self) -> None:
        """Ask the worker to stop at its next ``report``; ``cancelled`` (then ``finished``) follows if it does."""
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def start(self, pool: QThreadPool | None = None) -> Operation:
        if self._fn is None:
            raise RuntimeError("An operation runs once.")
        relay = _relay()
        key = next(_keys)
        relay.running[key] = self
        holder = [self._fn]
        self._fn = None
        (pool or QThreadPool.globalInstance()).start(partial(_work, relay, key, holder, self._stop))
        return self

    def _complete(self, ok: bool, value: object) -> None:
        try:
            if ok:
                self.succeeded.emit(value)
                if self._changes:
                    change_notifier().changed.emit(self._changes)
            elif isinstance(value, OperationCancelled) and self._stop.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(value)
        finally:
            self.finished.emit()


def _work(relay: _Relay, key: int, holder: list[Callable[[Report], Any]], stop: threading.Event) -> None:
    """In the worker thread. Every reference it holds is let go before the outcome is posted to the UI thread,
    so the function, its result or exception (with the traceback's frames) are released there, not here."""
    fn = holder.pop()
    ok, value = _call(fn, partial(_report, relay, key, stop))
    del fn
    relay.post((key, _DONE, (ok, value)))
    del value


def _report(relay: _Relay, key: int, stop: threading.Event, stage: str, done: int, total: int) -> None:
    if stop.is_set():
        raise OperationCancelled()
    relay.post((key, _PROGRESS, (stage, done, total)))


def _call(fn: Callable[[Report], Any], report: Report) -> tuple[bool, object]:
    try:
        return True, fn(report)
    except Exception as exc:
        return False, exc


_DONE, _PROGRESS = "done", "progress"


class _Relay(QObject):
    """Lives on the UI thread for the life of the process; carries worker outcomes back to their operations.

    Python objects never travel inside a cross-thread signal: workers put them on a thread-safe queue and emit
    an argument-less ``posted``, whose queued slot drains the queue on the UI thread. (PySide 6.8+ has crashed
    in the garbage collector when Python objects rode queued signals from worker threads: PYSIDE-3124.)
    """

    posted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.running: dict[int, Operation] = {}
        self._inbox: queue.SimpleQueue[tuple[int, str, tuple[Any, ...]]] = queue.SimpleQueue()
        self.posted.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def post(self, message: tuple[int, str, tuple[Any, ...]]) -> None:
        """From any thread."""
        self._inbox.put(message)
        # The application may be gone (a worker finishing during shutdown): then there is nobody to tell.
        with contextlib.suppress(RuntimeError):
            self.posted.emit()

    @Slot()
    def _drain(self) -> None:
        while True:
            try:
                key, kind, payload = self._inbox.get_nowait()
            except queue.Empty:
                return
            if kind == _DONE:
                operation = self.running.pop(key, None)
                if operation is not None:
                    operation._complete(*payload)
            else:
                operation = self.running.get(key)
                if operation is not None:
                    operation.progressed.emit(*payload)
            del payload


_keys = itertools.count(1)
_singletons: dict[str, QObject] = {}


def _relay() -> _Relay:
    if "relay" not in _singletons:
        _singletons["relay"] = _Relay()
    relay = _singletons["relay"]
    assert isinstance(relay, _Relay)
    return relay


def announce(*topics: str) -> None:
    """On the UI thread, after work done there (not through an Operation) changed data: views showing it refresh,
    and sync sends it soon (desktop.topics)."""
    change_notifier().changed.emit(frozenset(topics))


def change_notifier() -> ChangeNotifier:
    if "notifier" not in _singletons:
        _singletons["notifier"] = ChangeNotifier()
    notifier = _singletons["notifier"]
    assert isinstance(notifier, ChangeNotifier)
    return notifier
