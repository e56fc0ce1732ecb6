"""desktop.operation: work in a pool thread, outcome and progress back on the UI thread, changes announced."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThreadPool
from pytestqt.qtbot import QtBot

from desktop.operation import Operation, Report, change_notifier


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    yield
    assert QThreadPool.globalInstance().waitForDone(5000)


def test_result_progress_and_changes_arrive_on_the_ui_thread(qtbot: QtBot) -> None:
    ui = threading.get_ident()
    seen: dict[str, object] = {}

    def work(report: Report) -> int:
        seen["worker"] = threading.get_ident()
        report("Counting", 1, 2)
        report("Counting", 2, 2)
        return 42

    progress: list[tuple[str, object, object, int]] = []
    changes: list[object] = []
    change_notifier().changed.connect(changes.append)
    operation = Operation(work, changes={"catalogue"})
    operation.progressed.connect(lambda s, d, t: progress.append((s, d, t, threading.get_ident())))
    operation.succeeded.connect(lambda r: seen.update(result=r, result_thread=threading.get_ident()))
    try:
        with qtbot.waitSignal(operation.finished, timeout=5000):
            operation.start()
    finally:
        change_notifier().changed.disconnect(changes.append)
    assert seen["worker"] != ui
    assert seen["result"] == 42 and seen["result_thread"] == ui
    assert progress == [("Counting", 1, 2, ui), ("Counting", 2, 2, ui)]
    assert changes == [frozenset({"catalogue"})]


def test_an_exception_is_delivered_not_raised(qtbot: QtBot) -> None:
    def work(report: Report) -> None:
        raise ValueError("no such thing")

    operation = Operation(work, changes={"catalogue"})
    errors: list[object] = []
    succeeded: list[object] = []
    operation.failed.connect(errors.append)
    operation.succeeded.connect(succeeded.append)
    with qtbot.waitSignal(operation.finished, timeout=5000):
        operation.start()
    assert len(errors) == 1 and isinstance(errors[0], ValueError) and str(errors[0]) == "no such thing"
    assert succeeded == []


def test_large_progress_counts_are_not_truncated(qtbot: QtBot) -> None:
    total = 5 * 1024**3  # a full release is several GB of XML: more than a C int holds
    received: list[tuple[object, object]] = []
    operation = Operation(lambda report: report("Reading the release", total, total))
    operation.progressed.connect(lambda _s, done, all_: received.append((done, all_)))
    with qtbot.waitSignal(operation.finished, timeout=5000):
        operation.start()
    assert received == [(total, total)]


def test_an_operation_runs_once(qtbot: QtBot) -> None:
    operation = Operation(lambda report: None)
    with qtbot.waitSignal(operation.finished, timeout=5000):
        operation.start()
    with pytest.raises(RuntimeError):
        operation.start()
