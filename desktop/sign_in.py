"""The sign-in window: user name and password or PIN, checked offline against the app database.

On a demo installation the demo users and their password are shown, so a first look needs no setup; a real
installation never shows any. The check (argon2, tens of ms) runs off the UI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.demo import DEMO_PASSWORD, DEMO_PIN, DEMO_USERS
from core.storage.database import Database
from core.users.service import sign_in
from desktop.messages import error_text
from desktop.operation import Operation
from desktop.pin_pad import PinPad


class SignInWindow(QWidget):
    signed_in = Signal(object)  # the ServiceContext of the user who signed in

    def __init__(
        self, database: Database, workstation: str, *, demo: bool, keypad: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.workstation = workstation
        self.setObjectName("signInWindow")
        self.setWindowTitle("RxDesk: sign in")
        self.setMinimumWidth(440)
        self._operation: Operation | None = None

        title = QLabel("RxDesk")
        title.setObjectName("signInTitle")
        subtitle = QLabel("Sign in to prescribe, dispense or manage this clinic or pharmacy. Works offline.")
        subtitle.setWordWrap(True)
        self.username = QLineEdit()
        self.username.setAccessibleName("User name")
        self.secret = QLineEdit()
        self.secret.setAccessibleName("Password or PIN")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.button = QPushButton("Sign in")
        self.button.setDefault(True)
        self.error = QLabel()
        self.error.setObjectName("signInError")
        self.error.setWordWrap(True)
        self.error.hide()

        form = QFormLayout()
        form.addRow("User name", self.username)
        form.addRow("Password or PIN", self.secret)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 24, 28, 24)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(form)
        self.pin_pad = PinPad(self.secret, ok_text="Sign in") if keypad else None  # a touch screen (the kiosk)
        if self.pin_pad is not None:
            self.button.hide()  # the keypad's own button signs in
            self.pin_pad.submitted.connect(lambda _secret: self.submit())
            layout.addWidget(self.pin_pad)
        layout.addWidget(self.error)
        layout.addWidget(self.button, alignment=Qt.AlignmentFlag.AlignRight)
        self.demo_hint = self._demo_hint() if demo else None
        if self.demo_hint is not None:
            layout.addWidget(self.demo_hint)
        layout.addStretch(1)

        self.button.clicked.connect(self.submit)
        self.username.returnPressed.connect(self.secret.setFocus)
        self.secret.returnPressed.connect(self.submit)
        self.username.setFocus()

    def _demo_hint(self) -> QFrame:
        box = QFrame()
        box.setObjectName("demoHint")
        text = QLabel(
            "<b>Demo installation</b> (the bundled demo catalogue, made-up patients).<br>"
            + "<br>".join(f"{u.role.value}: <b>{u.username}</b>" for u in DEMO_USERS)
            + f"<br>Password <b>{DEMO_PASSWORD}</b>, signing PIN <b>{DEMO_PIN}</b>."
        )
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        QVBoxLayout(box).addWidget(text)
        return box

    def submit(self) -> None:
        if self._operation is not None:
            return  # a check is already running
        username, secret = self.username.text().strip(), self.secret.text()
        if not username or not secret:
            self.show_error("Type your user name and your password or PIN.")
            return
        self.button.setEnabled(False)
        database, workstation = self.database, self.workstation
        operation = Operation(lambda _report: sign_in(database, username, secret, workstation))
        operation.succeeded.connect(self._succeeded)
        operation.failed.connect(lambda error: self.show_error(error_text(error)))
        operation.finished.connect(self._finished)
        self._operation = operation.start()

    def _succeeded(self, ctx: ServiceContext) -> None:
        self.secret.clear()
        self.error.hide()
        self.signed_in.emit(ctx)

    def _finished(self) -> None:
        self._operation = None
        self.button.setEnabled(True)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.secret.selectAll()
        self.secret.setFocus()
