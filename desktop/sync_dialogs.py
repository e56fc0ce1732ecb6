"""Signing this workstation in to the sync server, and sync's details for anyone (the status bar's click for roles
without the Admin workspace, and in the kiosk).

The sign-in runs off the UI thread (it waits on the server); its refusal is shown in the dialog as one sentence,
and the password is cleared, never kept: it goes to the server once and nowhere else.
"""

from __future__ import annotations

import logging
from itertools import pairwise

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.dmd.errors import DmdError
from core.errors import RxDeskError
from core.users.roles import Permission, allowed
from desktop.form_dialog import FormDialog
from desktop.messages import error_text
from desktop.operation import Operation
from desktop.sync_indicator import STATE_NAMES, counts_text, last_sync_text
from desktop.sync_runner import SyncRunner
from desktop.topics import SYNC_CHANGED
from sync.connection import ServerSettings, connect_workstation, read_server_settings
from sync.status import SyncState, SyncStatus

log = logging.getLogger(__name__)


class ServerSignInDialog(FormDialog):
    """Endpoint, project, email, password and (if the account has several) the team. An admin may name any server;
    anyone else signs the workstation in again to the server it has (``connect_workstation`` enforces the same)."""

    changes = frozenset({SYNC_CHANGED})

    def __init__(self, parent: QWidget, ctx: ServiceContext, current: ServerSettings | None) -> None:
        super().__init__(parent, "Sign in to the sync server", "Sign in")
        self.ctx = ctx
        self.operation: Operation | None = None
        self.may_choose_server = allowed(ctx.actor.role, Permission.MANAGE_USERS)
        self.endpoint = QLineEdit(current.endpoint if current else "")
        self.endpoint.setPlaceholderText("https://cloud.appwrite.io/v1")
        self.project = QLineEdit(current.project if current else "")
        self.email = QLineEdit(current.email if current else "")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.team = QLineEdit(current.team if current else "")
        self.team.setPlaceholderText("only if the account belongs to several organisations")
        fields = (
            ("Server address", self.endpoint),
            ("Project id", self.project),
            ("Email", self.email),
            ("Password", self.password),
            ("Team id", self.team),
        )
        for label, field in fields:
            field.setAccessibleName(label)
            field.setMinimumWidth(360)
            self.form.addRow(label, field)
        if not self.may_choose_server:
            for field in (self.endpoint, self.project, self.team):
                field.setReadOnly(True)
                field.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        hint = QLabel(
            "The server account's password is sent to the server once and never kept: the workstation keeps its "
            "session in this computer's keyring."
            if self.may_choose_server
            else "Signs this workstation in again to its server; only an admin connects it to another."
        )
        hint.setWordWrap(True)
        self.form.addRow("", hint)
        self.progress = QLabel("Signing in…")
        self.progress.setAccessibleName("Sign-in progress")
        self.progress.hide()
        self.form.addRow("", self.progress)
        order = [f for _, f in fields if f.focusPolicy() != Qt.FocusPolicy.NoFocus]
        for before, after in pairwise(order):
            QWidget.setTabOrder(before, after)
        self.resize(560, self.sizeHint().height())
        first_empty = next((f for f in order if not f.text()), self.password)
        first_empty.setFocus()

    @property
    def busy(self) -> bool:
        return self.operation is not None

    def submit(self) -> None:
        if self.busy:
            return
        endpoint, project = self.endpoint.text().strip(), self.project.text().strip()
        email, password, team = self.email.text().strip(), self.password.text(), self.team.text().strip()
        missing = [name for name, value in (("server address", endpoint), ("project id", project),
                                            ("email", email), ("password", password)) if not value]  # fmt: skip
        if missing:
            self.show_error(f"Fill in the {', '.join(missing)}.")
            return
        ctx = self.ctx
        operation = Operation(
            lambda _report: connect_workstation(ctx, endpoint, project, email, password, team=team or None),
            changes=self.changes,
        )
        operation.succeeded.connect(self._signed_in)
        operation.failed.connect(self._failed)
        operation.finished.connect(lambda: self._set_busy(None))
        self.error.hide()
        self._set_busy(operation.start())

    def _set_busy(self, operation: Operation | None) -> None:
        self.operation = operation
        on = operation is not None
        for widget in (self.endpoint, self.project, self.email, self.password, self.team, self.buttons):
            widget.setEnabled(not on)
        self.progress.setVisible(on)

    def _signed_in(self, settings: ServerSettings) -> None:
        self.password.clear()
        self.written.emit(settings)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, RxDeskError | DmdError):
            log.info("Signing in to the sync server failed: %s", error)
        else:
            log.error("Signing in to the sync server failed", exc_info=error)
        self.password.clear()
        self.show_error(error_text(error))
        self.password.setEnabled(True)
        self.password.setFocus()

    def reject(self) -> None:
        if self.busy:  # the answer is on its way (the request has its own timeout): it still counts
            self.hide()
        else:
            super().reject()


def open_sign_in(parent: QWidget, ctx: ServiceContext) -> ServerSignInDialog | None:
    """The sign-in dialog, opened over ``parent``; None (nothing opened) if this user may not connect a new one."""
    current = read_server_settings(ctx.database)
    if current is None and not allowed(ctx.actor.role, Permission.MANAGE_USERS):
        return None
    dialog = ServerSignInDialog(parent, ctx, current)
    dialog.open()
    return dialog


class SyncDetailsDialog(QDialog):
    """Sync's state in full for anyone: what it is doing, the last sync, what waits; Sync now; and signing the
    workstation in again when the session has ended."""

    def __init__(self, parent: QWidget, runner: SyncRunner, ctx: ServiceContext | None) -> None:
        super().__init__(parent)
        self.runner, self.ctx = runner, ctx
        self.sign_in_dialog: ServerSignInDialog | None = None
        self.setObjectName("syncDetails")
        self.setWindowTitle("RxDesk: sync")
        heading = QLabel("Sync with the server")
        heading.setObjectName("counterTitle")
        self.state = QLabel()
        bold = QFont(self.state.font())
        bold.setBold(True)
        self.state.setFont(bold)
        self.detail = QLabel()
        self.last_sync = QLabel()
        self.counts = QLabel()
        self.step = QLabel()
        self.advice = QLabel()
        labels = ((self.state, "Sync state"), (self.detail, "Why"), (self.last_sync, "Last sync"),
                  (self.counts, "Waiting and inbox"), (self.step, "Now"), (self.advice, "What to do"))  # fmt: skip
        for label, name in labels:
            label.setWordWrap(True)
            label.setAccessibleName(name)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("State", self.state)
        form.addRow("", self.detail)
        form.addRow("Last sync", self.last_sync)
        form.addRow("Waiting", self.counts)
        form.addRow("", self.step)
        self.sync_button = QPushButton("Sync &now")
        self.sync_button.setToolTip("Send what is waiting and take what is new, now")
        self.sign_in_button = QPushButton("Sign &in to the server…")
        self.sign_in_button.setToolTip("Sign this workstation in to its server again (the session has ended)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.sync_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self.advice)
        layout.addWidget(self.buttons)
        self.sync_button.clicked.connect(runner.sync_now)
        self.sign_in_button.clicked.connect(self.sign_in)
        runner.status_changed.connect(self.refresh)
        runner.step_changed.connect(self.refresh)
        self.resize(520, self.sizeHint().height())
        self.refresh()

    def refresh(self) -> None:
        status: SyncStatus | None = self.runner.status
        now = self.runner.clock()
        state = status.state if status else None
        self.state.setText(STATE_NAMES[state] if state else "Starting")
        self.detail.setText(status.detail if status else "")
        self.detail.setVisible(bool(status and status.detail))
        self.last_sync.setText(last_sync_text(status, now))
        self.counts.setText(counts_text(status) if status else "")
        self.step.setText(f"Now: {self.runner.step}" if self.runner.step else "")
        self.step.setVisible(bool(self.runner.step))
        connected = self.ctx is not None and read_server_settings(self.ctx.database) is not None
        self.sign_in_button.setVisible(connected)
        self.sign_in_button.setDefault(state is SyncState.NEEDS_SIGN_IN)
        self.sync_button.setEnabled(state in (SyncState.OFFLINE, SyncState.UP_TO_DATE, SyncState.ERROR))
        advice = []
        if state is SyncState.NOT_CONNECTED:
            advice.append("Ask an admin to connect this workstation to the organisation's server.")
        elif state is SyncState.NEEDS_SIGN_IN:
            advice.append(
                "Work goes on here and nothing is lost; sign in to the server to send it."
                if self.ctx is not None
                else "Work goes on here and nothing is lost; sign in to RxDesk, then to the server, to send it."
            )
        if status and status.inbox:
            advice.append("An admin deals with the sync inbox in Admin → Sync.")
        self.advice.setText(" ".join(advice))
        self.advice.setVisible(bool(advice))

    def sign_in(self) -> ServerSignInDialog | None:
        if self.ctx is None:
            return None
        self.sign_in_dialog = open_sign_in(self, self.ctx)
        return self.sign_in_dialog
