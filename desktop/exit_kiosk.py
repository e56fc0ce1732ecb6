"""Leaving the kiosk for the desktop: only with an admin's user name and PIN or password, checked offline by
``sign_in`` and then ``core.kiosk.record_kiosk_exit`` (admins only, audited), off the UI thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.context import ServiceContext, utc_now
from core.kiosk import record_kiosk_exit
from core.storage.database import Database
from core.users.service import sign_in
from desktop.messages import error_text
from desktop.operation import Operation
from desktop.pin_pad import PinPad


def leave_kiosk(
    database: Database, username: str, secret: str, workstation: str, clock: Callable[[], datetime]
) -> ServiceContext:
    """The admin's sign-in, then the audited exit; raises SignInFailed or PermissionDenied."""
    admin = sign_in(database, username, secret, workstation, clock)
    record_kiosk_exit(admin)
    return admin


class ExitKioskDialog(QDialog):
    def __init__(
        self, parent: QWidget, database: Database, workstation: str, clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.workstation = workstation
        self.clock = clock
        self._operation: Operation | None = None
        self.setObjectName("exitKiosk")
        self.setWindowTitle("RxDesk: leave the kiosk")

        heading = QLabel("Leave the kiosk")
        heading.setObjectName("counterTitle")
        explain = QLabel("An admin's user name and PIN or password closes RxDesk and goes back to the desktop.")
        explain.setWordWrap(True)
        self.username = QLineEdit()
        self.username.setAccessibleName("Admin's user name")
        self.pad = PinPad(ok_text="Leave the kiosk")
        self.pad.field.setPlaceholderText("PIN or password")
        self.pad.field.setAccessibleName("Admin's PIN or password")
        self.error = QLabel()
        self.error.setObjectName("signInError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.cancel_button = QPushButton("Stay in the kiosk")
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        form = QFormLayout()
        form.addRow("Admin", self.username)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addLayout(form)
        layout.addWidget(self.pad)
        layout.addWidget(self.error)
        layout.addWidget(self.cancel_button)
        self.setMinimumWidth(420)

        self.username.returnPressed.connect(self.pad.field.setFocus)
        self.pad.submitted.connect(self.submit)
        self.cancel_button.clicked.connect(self.reject)
        self.username.setFocus()

    def submit(self, secret: str) -> None:
        if self._operation is not None:
            return
        username = self.username.text().strip()
        if not username or not secret:
            self.show_error("Type an admin's user name and PIN or password.")
            return
        database, workstation, clock = self.database, self.workstation, self.clock
        operation = Operation(lambda _report: leave_kiosk(database, username, secret, workstation, clock))
        operation.succeeded.connect(self._succeeded)
        operation.failed.connect(self._failed)
        operation.finished.connect(self._finished)
        self.pad.setEnabled(False)
        self._operation = operation.start()

    def _succeeded(self, _admin: ServiceContext) -> None:
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.show_error(error_text(error))

    def _finished(self) -> None:
        self._operation = None
        self.pad.setEnabled(True)

    def show_error(self, message: str) -> None:
        self.pad.clear()
        self.error.setText(message)
        self.error.show()
        self.pad.field.setFocus()
