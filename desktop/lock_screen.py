"""The kiosk's lock screen: the signed-in user's PIN or password carries on where they left off; anyone else
signs in afresh (which ends the locked session). The check is ``sign_in`` itself, off the UI thread: the same
offline check, the same lockout after five wrong tries, and audited as signing in again."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from core.context import ServiceContext
from core.storage.database import Database
from core.users.service import sign_in
from desktop.messages import error_text
from desktop.operation import Operation
from desktop.pin_pad import PinPad


class LockScreen(QWidget):
    unlocked = Signal(object)  # the ServiceContext of the same user, signed in again
    someone_else = Signal()  # another user wants to sign in: the locked session ends

    def __init__(self, database: Database, workstation: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.database = database
        self.workstation = workstation
        self.ctx: ServiceContext | None = None
        self._operation: Operation | None = None
        self.setObjectName("lockScreen")

        self.title = QLabel("Locked")
        self.title.setObjectName("signInTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.who = QLabel()
        self.who.setWordWrap(True)
        self.who.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pad = PinPad(ok_text="Unlock")
        self.pad.field.setPlaceholderText("PIN or password")
        self.pad.field.setAccessibleName("Your PIN or password")
        self.error = QLabel()
        self.error.setObjectName("signInError")
        self.error.setWordWrap(True)
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error.hide()
        self.other_button = QPushButton("Sign in as someone else")
        self.other_button.setObjectName("linkButton")
        self.other_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        column = QWidget()
        column.setMaximumWidth(420)
        inner = QVBoxLayout(column)
        inner.setSpacing(14)
        inner.addWidget(self.title)
        inner.addWidget(self.who)
        inner.addWidget(self.pad)
        inner.addWidget(self.error)
        inner.addWidget(self.other_button)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(column, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

        self.pad.submitted.connect(self.submit)
        self.other_button.clicked.connect(self.someone_else)

    def lock(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.who.setText(
            f"{ctx.actor.full_name} is signed in. Type your PIN or password to carry on; nobody else can see "
            "your work until you do."
        )
        self.other_button.setText(f"Not {ctx.actor.full_name.split()[0]}? Sign in as someone else")
        self.pad.clear()
        self.error.hide()
        self.pad.field.setFocus()

    def submit(self, secret: str) -> None:
        ctx = self.ctx
        if ctx is None or self._operation is not None:
            return
        if not secret:
            self.show_error("Type your PIN or password.")
            return
        database, workstation, username = self.database, self.workstation, ctx.actor.username
        operation = Operation(lambda _report: sign_in(database, username, secret, workstation, ctx.clock))
        operation.succeeded.connect(self._succeeded)
        operation.failed.connect(self._failed)
        operation.finished.connect(self._finished)
        self.pad.setEnabled(False)
        self._operation = operation.start()

    def _succeeded(self, ctx: ServiceContext) -> None:
        self.pad.clear()
        self.error.hide()
        self.unlocked.emit(ctx)

    def _failed(self, error: BaseException) -> None:
        self.show_error(error_text(error))

    def _finished(self) -> None:
        self._operation = None
        self.pad.setEnabled(True)
        self.pad.field.setFocus()

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.pad.field.selectAll()
