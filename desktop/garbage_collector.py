"""Python's cyclic garbage collector, run only on the UI thread at a quiet moment.

Left automatic, a collection starts wherever an allocation crosses the threshold: in a worker thread, or inside
Qt's event dispatch. It may then free a cycle holding a Qt object, whose C++ side is destroyed on the wrong thread
or under Qt's feet, and the process crashes (seen here as segfaults "Garbage-collecting" during tests). Anki does
the same for the same reason: automatic collection off, a timer on the UI thread collects instead.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 1000


class GarbageCollector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds, as automatic collection would."""
        first, second, third = gc.get_count()
        if first > self.threshold[0]:
            gc.collect(0)
            if second > self.threshold[1]:
                gc.collect(1)
                if third > self.threshold[2]:
                    gc.collect(2)
