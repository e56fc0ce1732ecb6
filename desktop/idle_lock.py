"""Noticing that nobody has touched the kiosk for a while: an application-wide event filter restarts a timer on
every key, click, touch or mouse movement; ``idle`` is emitted when it runs out."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

from desktop.app_filters import install_app_filter

INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
    }
)
RESTART_SLACK_MS = 500  # one event is seen by every widget it passes: restart the timer at most this often


class IdleWatcher(QObject):
    idle = Signal()

    def __init__(self, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(round(minutes * 60_000))
        self.timer.timeout.connect(self.idle)
        install_app_filter(self)

    def start(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS and self.timer.isActive():
            interval = self.timer.interval()
            if self.timer.remainingTime() < interval - min(RESTART_SLACK_MS, interval // 4):
                self.timer.start()
        return False
