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


def test_cancel_stops_the_worker_at_its_next_report(qtbot: QtBot) -> None:
    started = threading.Event()
    reports: list[int] = []
    cleaned_up: list[bool] = []

    def work(report: Report) -> str:
        try:
            started.set()
            for i in range(10_000):
                report("Working", i, 10_000)
                reports.append(i)
                threading.Event().wait(0.001)
            return "done"
        finally:
            cleaned_up.append(True)

    operation = Operation(work, changes={"catalogue"})
    outcome: list[str] = []
    operation.succeeded.connect(lambda _r: outcome.append("succeeded"))
    operation.failed.connect(lambda _e: outcome.append("failed"))
    operation.cancelled.connect(lambda: outcome.append("cancelled"))
    operation.finished.connect(lambda: outcome.append("finished"))
    changes: list[object] = []
    change_notifier().changed.connect(changes.append)
    try:
        with qtbot.waitSignal(operation.finished, timeout=10_000):
            operation.start()
            assert started.wait(5)
            operation.cancel()
            assert operation.cancel_requested
    finally:
        change_notifier().changed.disconnect(changes.append)
    assert outcome == ["cancelled", "finished"]
    assert cleaned_up == [True] and len(reports) < 10_000
    assert changes == []  # nothing changed: no view is told to refresh


def test_cancelled_before_the_first_report_never_reports(qtbot: QtBot) -> None:
    progress: list[object] = []
    operation = Operation(lambda report: report("Starting", 0, 1))
    operation.progressed.connect(lambda *args: progress.append(args))
    cancelled: list[bool] = []
    operation.cancelled.connect(lambda: cancelled.append(True))
    operation.cancel()
    with qtbot.waitSignal(operation.finished, timeout=5000):
        operation.start()
    assert cancelled == [True] and progress == []


def test_work_past_its_last_report_succeeds_even_if_cancelled(qtbot: QtBot) -> None:
    may_finish = threading.Event()

    def work(report: Report) -> int:
        report("Last step", 1, 1)
        assert may_finish.wait(5)
        return 7

    operation = Operation(work)
    results: list[object] = []
    operation.succeeded.connect(results.append)
    operation.cancelled.connect(lambda: results.append("cancelled"))
    with qtbot.waitSignal(operation.finished, timeout=5000):
        operation.start()
        with qtbot.waitSignal(operation.progressed, timeout=5000):
            pass
        operation.cancel()
        may_finish.set()
    assert results == [7]


def test_the_exception_of_a_function_not_cancelled_is_a_failure(qtbot: QtBot) -> None:
    from desktop.operation import OperationCancelled

    def work(report: Report) -> None:
        raise OperationCancelled()  # raised without cancel(): a bug, reported as a failure

    operation = Operation(work)
    errors: list[object] = []
    operation.failed.connect(errors.append)
    with qtbot.waitSignal(operation.finished, timeout=5000):
        operation.start()
    assert len(errors) == 1 and isinstance(errors[0], OperationCancelled)
