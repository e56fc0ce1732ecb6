"""The application-wide event filters written in Python (the barcode scanner's, the kiosk's idle watch, the start
check's), and their pause while a Qt WebEngine view exists.

PySide 6.11 recurses without end, and the process dies, when an application-wide filter implemented in Python is
offered an event for one of Qt WebEngine's internal Qt Quick items that has no Python wrapper yet: making the
wrapper sets a dynamic property, whose change event goes through the same filter, which needs the same wrapper
(seen as a segmentation fault when the card payment page took the focus in the running app). So the filters are
installed through here, and the top-up dialog pauses them for as long as its WebEngine view lives (it is modal:
nothing else is being scanned or typed meanwhile).
"""

from __future__ import annotations

import contextlib

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

_filters: list[QObject] = []
_pauses = 0


def install_app_filter(watcher: QObject) -> None:
    _filters.append(watcher)
    if _pauses == 0:
        _app().installEventFilter(watcher)


def remove_app_filter(watcher: QObject) -> None:
    with contextlib.suppress(ValueError):
        _filters.remove(watcher)
    if shiboken6.isValid(watcher):
        _app().removeEventFilter(watcher)


def pause_app_filters() -> None:
    """Take every Python application-wide filter off until ``resume_app_filters`` (pauses nest)."""
    global _pauses
    _pauses += 1
    if _pauses == 1:
        for watcher in _alive():
            _app().removeEventFilter(watcher)


def resume_app_filters() -> None:
    global _pauses
    if _pauses == 0:
        return
    _pauses -= 1
    if _pauses == 0:
        for watcher in _alive():
            _app().installEventFilter(watcher)


def paused() -> bool:
    return _pauses > 0


def _alive() -> list[QObject]:
    _filters[:] = [w for w in _filters if shiboken6.isValid(w)]
    return list(_filters)


def _app() -> QApplication:
    app = QApplication.instance()
    assert isinstance(app, QApplication), "a QApplication must exist"
    return app
