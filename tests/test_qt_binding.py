"""The Qt binding itself: faults in it that once took the whole application down are checked here."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    plain = Signal()
    carrying = Signal(object)


def test_emitting_a_signal_does_not_leak_a_reference_to_its_result(qapp: object) -> None:
    # PySide6 6.12.0 released a reference to the bool emit() returns: every emit took one from True, and after a
    # few thousand operations the process aborted ("deallocating True or False"). The pin in pyproject.toml is
    # the fix; this keeps it from coming back with an upgrade.
    emitter = _Emitter()
    emitter.plain.connect(lambda: None)
    emitter.carrying.connect(lambda _value: None)
    emitter.plain.emit()  # the binding's first emit sets up what it caches
    emitter.carrying.emit([1])
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(200):
        emitter.plain.emit()
        emitter.carrying.emit([1])
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
