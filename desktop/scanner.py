"""A barcode scanner is a keyboard: a burst of keys, each within ~35 ms of the one before, ending in Enter.

``ScanDetector`` watches every key pressed in a window (an event filter on the application, so a scan works
whichever widget has the focus) and emits ``scanned(code)`` for such a burst. People type far slower than that,
so typing is never taken for a scan. The scan's characters also reached the focused text field, as keys do;
they are taken back out of it, and the Enter that ends the scan is not passed on (it would press a default
button).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from desktop.app_filters import install_app_filter

MAX_GAP_S = 0.035  # between two keys of one scan
MIN_LENGTH = 8  # the shortest barcode we scan: GTIN-8
_ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class ScanDetector(QObject):
    scanned = Signal(str)

    def __init__(self, window: QWidget, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window)
        self.window = window
        self._clock = clock
        self._buffer = ""
        self._last = 0.0
        install_app_filter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not self._in_window(watched):
            return False
        assert isinstance(event, QKeyEvent)
        now = self._clock()
        in_time = bool(self._buffer) and now - self._last <= MAX_GAP_S
        if event.key() in _ENTER:
            code, self._buffer = self._buffer, ""
            if in_time and len(code) >= MIN_LENGTH:
                self._take_back(code)
                self.scanned.emit(code)
                return True  # the scan's Enter is not a key press for the window
            return False
        text = event.text()
        if len(text) == 1 and text.isprintable():
            self._buffer = self._buffer + text if in_time else text
            self._last = now
        else:
            self._buffer = ""
        return False

    def _in_window(self, watched: QObject) -> bool:
        # Each key press reaches the filter once per widget it is offered to: count it at the focus widget only.
        return (
            isinstance(watched, QWidget)
            and watched is QApplication.focusWidget()
            and (watched is self.window or self.window.isAncestorOf(watched))
        )

    def _take_back(self, code: str) -> None:
        focus = QApplication.focusWidget()
        if isinstance(focus, QLineEdit) and focus.text().endswith(code):
            focus.setText(focus.text()[: -len(code)])
