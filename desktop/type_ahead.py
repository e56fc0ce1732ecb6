"""Type-ahead search off the UI thread: every keystroke asks, only the latest answer is shown.

Searches run one at a time in a pool of their own. A request that is already out of date when its turn comes is
skipped without touching the database, so a fast typist never queues up work, and an answer that arrives after a
newer request is dropped. The UI thread never waits for the database, however slow a query is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal

from desktop.operation import Operation

_SKIPPED = object()  # what a stale request "returns"


class TypeAheadSearch(QObject):
    answered = Signal(str, object)  # (text, whatever the search function returned) for the latest request
    failed = Signal(str, object)  # (text, exception)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._generation = 0

    def request(self, text: str, search: Callable[[], Any]) -> None:
        """Run ``search`` (everything it needs captured on the UI thread) for ``text``; answered unless overtaken."""
        self._generation += 1
        generation = self._generation

        def run(_report: object) -> Any:
            # Read across threads: an int attribute, set only on the UI thread. Stale means skip the query.
            if generation != self._generation:
                return _SKIPPED
            return search()

        operation = Operation(run)
        operation.succeeded.connect(lambda value: self._answer(generation, text, value))
        operation.failed.connect(lambda error: self._fail(generation, text, error))
        operation.start(self._pool)

    def cancel(self) -> None:
        """Drop whatever is on its way (the view was cleared)."""
        self._generation += 1

    def wait(self) -> None:
        """Let the running search finish (before the database it reads is closed)."""
        self._pool.waitForDone()

    def settle(self) -> None:
        """Wait for the searches under way and deliver the latest answer now: Enter was pressed before it came."""
        self._pool.waitForDone()
        QCoreApplication.sendPostedEvents()  # the worker's answer is a queued signal: deliver it here

    def _answer(self, generation: int, text: str, value: object) -> None:
        if generation == self._generation and value is not _SKIPPED:
            self.answered.emit(text, value)

    def _fail(self, generation: int, text: str, error: BaseException) -> None:
        if generation == self._generation:
            self.failed.emit(text, error)
