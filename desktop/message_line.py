"""The one-line outcome under a panel's form: what just happened, or why it was refused (styled by "outcome")."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget


class MessageLine(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counterMessage")
        self.setWordWrap(True)
        self.hide()

    def say(self, text: str, *, failed: bool = False) -> None:
        self.setText(text)
        self.setProperty("outcome", "block" if failed else "allow")
        self.style().unpolish(self)  # a dynamic property changes the style only once re-polished
        self.style().polish(self)
        self.show()
