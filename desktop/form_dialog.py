"""A dialog that writes through one core service when its action button is pressed.

It stays open with the core's message when the service refuses (nothing half-written, nothing typed lost), and
closes only after the write succeeded; ``written`` carries what the service returned, and the dialog's ``changes``
(desktop.topics) are announced.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from core.errors import RxDeskError
from desktop.operation import announce
from desktop.topics import RECORDS_CHANGED


class FormDialog(QDialog):
    written = Signal(object)
    changes: frozenset[str] = frozenset({RECORDS_CHANGED})  # what a write changes

    def __init__(self, parent: QWidget, title: str, action: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"RxDesk: {title}")
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(action)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout()
        layout = QVBoxLayout(self)
        heading = QLabel(title)
        heading.setObjectName("counterTitle")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def submit(self) -> None:
        try:
            result = self.write()
        except RxDeskError as exc:
            self.show_error(str(exc))
            return
        self.written.emit(result)
        announce(*self.changes)
        self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def write(self) -> object:
        """Call the core service with what was entered; raise RxDeskError (its message is shown) to stay open."""
        raise NotImplementedError
