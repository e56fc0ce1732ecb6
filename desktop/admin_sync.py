"""Admin → Sync: which server this workstation syncs with and who signed it in, the state and the last sync, what
waits and the last error, Sync now (in the sync thread, with its steps shown), signing in and out, and the sync
inbox: changes the server rejected or found in conflict, each shown field by field (mine against the server's),
restored (a conflict over a record's fields) or dismissed, both audited by sync.inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.documents.formatting import format_uk_datetime
from core.errors import RxDeskError
from core.patients.records import FIELD_LABELS
from desktop.message_line import MessageLine
from desktop.messages import error_text
from desktop.operation import Operation, announce, change_notifier
from desktop.sync_dialogs import ServerSignInDialog, open_sign_in
from desktop.sync_indicator import STATE_NAMES, last_sync_text, plural
from desktop.sync_runner import SyncRunner
from desktop.topics import SYNC_CHANGED
from sync.connection import ServerSettings, disconnect_workstation, read_server_settings
from sync.inbox import InboxItem, dismiss, open_items, restore
from sync.status import SyncState, SyncStatus

INBOX_COLUMNS = ("Kind", "Table", "Row", "Reason", "When")
FIELD_COLUMNS = ("Field", "Mine", "Server")
KIND_NAMES = {"conflict": "Conflict", "rejected": "Rejected", "set aside": "Set aside"}
HIDDEN_FIELDS = {"id", "team_id", "created_at", "updated_at"}  # bookkeeping, not what anyone changed


def _cell(text: str, tip: str | None = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setToolTip(tip or text)
    return item


def _table(columns: tuple[str, ...], name: str, stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setAccessibleName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    for column in range(len(columns)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _when(value: datetime) -> str:
    return format_uk_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))


def field_name(field: str) -> str:
    return FIELD_LABELS.get(field) or field.replace("_", " ").capitalize()


def field_value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value.replace("\n", ", ")
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def row_name(item: InboxItem) -> str:
    """What the row is, for people: a patient's or a user's name where the change says it, else its id."""
    data = {**(item.server or {}), **item.mine}
    if data.get("family_name"):
        return f"{data.get('given_name') or ''} {str(data['family_name']).upper()}".strip()
    for key in ("name", "full_name", "username", "description"):
        if data.get(key):
            return str(data[key])
    return item.row_id


def field_rows(item: InboxItem) -> list[tuple[str, str, str]]:
    """(field, mine, server's) for each field this workstation's change carried, those that differ first."""
    server = item.server or {}
    rows = [
        (field_name(key), field_value(value), field_value(server.get(key)) if item.server else "—")
        for key, value in sorted(item.mine.items())
        if key not in HIDDEN_FIELDS and not key.startswith("$")
    ]
    return sorted(rows, key=lambda row: row[1] == row[2])


class SyncPanel(QWidget):
    def __init__(self, ctx: ServiceContext, runner: SyncRunner | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.items: list[InboxItem] = []
        self.settings: ServerSettings | None = None
        self.dialog: ServerSignInDialog | None = None
        self.signing_out: Operation | None = None
        self.confirm = _confirm  # replaced in tests
        self.setObjectName("adminSync")

        heading = QLabel("Sync with the RxDesk server")
        heading.setObjectName("counterTitle")
        self.server = QLabel()
        self.team = QLabel()
        self.signed_in_by = QLabel()
        self.state = QLabel()
        bold = QFont(self.state.font())
        bold.setBold(True)
        self.state.setFont(bold)
        self.detail = QLabel()
        self.last_sync = QLabel()
        self.pending = QLabel()
        self.last_error = QLabel()
        self.step = QLabel()
        self.form = form = QFormLayout()
        for label, widget in (("Server", self.server), ("Organisation team", self.team),
                              ("Signed in by", self.signed_in_by), ("State", self.state), ("", self.detail),
                              ("Last sync", self.last_sync), ("Waiting to send", self.pending),
                              ("Last error", self.last_error), ("", self.step)):  # fmt: skip
            widget.setWordWrap(True)
            widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            widget.setAccessibleName(label or ("Why" if widget is self.detail else "Sync progress"))
            form.addRow(label, widget)
        self.sync_button = QPushButton("Sync &now")
        self.sync_button.setObjectName("primaryButton")
        self.sync_button.setToolTip("Send what is waiting and take what is new from the server, now")
        self.sign_in_button = QPushButton("Sign &in to the server…")
        self.sign_in_button.setToolTip("Connect this workstation to the organisation's server, or sign it in again")
        self.sign_out_button = QPushButton("Sign &out of the server")
        self.sign_out_button.setToolTip("Stop syncing until someone signs in again; nothing waiting is lost")
        self.message = MessageLine()
        buttons = QHBoxLayout()
        buttons.addWidget(self.sync_button)
        buttons.addWidget(self.sign_in_button)
        buttons.addWidget(self.sign_out_button)
        buttons.addStretch(1)

        self.inbox_title = QLabel()
        self.inbox_title.setObjectName("counterTitle")
        self.inbox = _table(INBOX_COLUMNS, "Sync inbox", 3)
        self.detail_title = QLabel("Choose a change to see it field by field.")
        self.detail_title.setWordWrap(True)
        self.fields = _table(FIELD_COLUMNS, "Mine and the server's, field by field", 2)
        self.restore_button = QPushButton("&Restore mine")
        self.restore_button.setToolTip("Put your values back: sent to the server as a new change")
        self.dismiss_button = QPushButton("&Dismiss")
        self.dismiss_button.setToolTip("Accept the server's version and take this off the list")
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.detail_title)
        detail_layout.addWidget(self.fields, 1)
        item_buttons = QHBoxLayout()
        item_buttons.addStretch(1)
        item_buttons.addWidget(self.restore_button)
        item_buttons.addWidget(self.dismiss_button)
        detail_layout.addLayout(item_buttons)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.inbox)
        splitter.addWidget(detail)
        splitter.setSizes([640, 480])

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.inbox_title)
        layout.addWidget(splitter, 1)
        tab_order = (self.sync_button, self.sign_in_button, self.sign_out_button, self.inbox, self.fields,
                     self.restore_button, self.dismiss_button)  # fmt: skip
        for before, after in pairwise(tab_order):
            QWidget.setTabOrder(before, after)

        self.sync_button.clicked.connect(self.sync_now)
        self.sign_in_button.clicked.connect(self.sign_in)
        self.sign_out_button.clicked.connect(self.sign_out)
        self.restore_button.clicked.connect(self.restore_mine)
        self.dismiss_button.clicked.connect(self.dismiss_item)
        self.inbox.itemSelectionChanged.connect(self.show_item)
        change_notifier().changed.connect(self._on_changes)
        if runner is not None:
            runner.status_changed.connect(self._status_changed)
            runner.step_changed.connect(self._step_changed)  # a method: disconnected when the panel goes
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    def _on_changes(self, topics: frozenset[str]) -> None:
        if SYNC_CHANGED in topics:
            self.refresh()

    def _status_changed(self, status: SyncStatus) -> None:
        self.show_status()
        if status.state is not SyncState.SYNCING and status.inbox != len(self.items):
            self.refresh_inbox()

    def _step_changed(self, _step: str) -> None:
        self.show_status()

    # -- the connection and its state ---------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            self.settings = read_server_settings(self.ctx.database)
        except RxDeskError as exc:
            self.message.say(str(exc), failed=True)
        self.show_status()
        self.refresh_inbox()

    @property
    def status(self) -> SyncStatus | None:
        return self.runner.status if self.runner is not None else None

    def show_status(self) -> None:
        settings, status = self.settings, self.status
        now = self.runner.clock() if self.runner is not None else datetime.now(UTC)
        if settings is None:
            self.server.setText("None: this workstation is not connected to a server yet")
            self.team.setText("—")
            self.signed_in_by.setText("—")
        else:
            self.server.setText(f"{settings.endpoint} (project {settings.project})")
            self.team.setText(settings.team)
            self.signed_in_by.setText(f"{settings.email}, for workstation {settings.workstation}")
        if self.runner is None:
            self.state.setText("Not running in this window")
            self.detail.setText("Sync runs in the RxDesk application.")
        else:
            self.state.setText(STATE_NAMES[status.state] if status else "Starting")
            connection = f"{settings.email} at {settings.endpoint}" if settings else None
            self.detail.setText(status.detail if status and status.detail != connection else "")  # else said above
        self.form.setRowVisible(self.detail, bool(self.detail.text()))
        self.last_sync.setText(last_sync_text(status, now))
        self.pending.setText(plural(status.pending, "change") if status else "—")
        problem = self.runner.last_problem if self.runner is not None else None
        self.last_error.setText(f"{problem.detail} ({_when(problem.at)})" if problem else "None since RxDesk started")
        step = self.runner.step if self.runner is not None else ""
        self.step.setText(f"Syncing: {step}…" if step else "")
        self.form.setRowVisible(self.step, bool(step))
        state = status.state if status else None
        self.sync_button.setEnabled(state in (SyncState.OFFLINE, SyncState.UP_TO_DATE, SyncState.ERROR))
        self.sync_button.setText("Syncing…" if state is SyncState.SYNCING else "Sync &now")
        self.sign_out_button.setEnabled(settings is not None and self.signing_out is None)

    def sync_now(self) -> None:
        """Through the scheduler's thread (never here): progress arrives as steps, the outcome as the state."""
        if self.runner is not None:
            self.message.hide()
            self.runner.sync_now()

    def sign_in(self) -> ServerSignInDialog | None:
        dialog = open_sign_in(self, self.ctx)
        if dialog is not None:
            dialog.written.connect(self._signed_in)
        self.dialog = dialog
        return dialog

    def _signed_in(self, settings: ServerSettings) -> None:
        self.message.say(f"Signed in to {settings.endpoint} as {settings.email}: syncing now.")

    def sign_out(self) -> Operation | None:
        if self.settings is None or not self.confirm(
            self, "Sign this workstation out of the server? Sync stops until someone signs in again; "
            "nothing waiting is lost."
        ):  # fmt: skip
            return None
        ctx = self.ctx
        operation = Operation(lambda _report: disconnect_workstation(ctx), changes={SYNC_CHANGED})
        operation.succeeded.connect(
            lambda _none: self.message.say("Signed out of the server: changes wait here until someone signs in.")
        )
        operation.failed.connect(lambda error: self.message.say(error_text(error), failed=True))
        operation.finished.connect(self._signed_out)
        self.signing_out = operation.start()
        self.show_status()
        return self.signing_out

    def _signed_out(self) -> None:
        self.signing_out = None
        self.show_status()

    # -- the inbox ----------------------------------------------------------------------------------------------
    def refresh_inbox(self) -> None:
        selected = self.selected_item()
        try:
            self.items = open_items(self.ctx)
        except RxDeskError as exc:
            self.items = []
            self.message.say(str(exc), failed=True)
        self.inbox_title.setText(
            f"Sync inbox: {plural(len(self.items), 'change')} the server rejected or found in conflict"
            if self.items
            else "Sync inbox: empty (changes the server rejects or finds in conflict come here)"
        )
        self.inbox.blockSignals(True)
        self.inbox.setRowCount(len(self.items))
        for row, item in enumerate(self.items):
            cells = (
                _cell(KIND_NAMES.get(item.kind, item.kind)),
                _cell(item.table.replace("_", " ")),
                _cell(row_name(item), item.row_id),
                _cell(item.reason),
                _cell(_when(item.created_at)),
            )
            for column, cell in enumerate(cells):
                self.inbox.setItem(row, column, cell)
        ids = [item.id for item in self.items]
        if selected is not None and selected.id in ids:
            self.inbox.selectRow(ids.index(selected.id))
        elif self.items:
            self.inbox.selectRow(0)
        self.inbox.blockSignals(False)
        self.show_item()

    def selected_item(self) -> InboxItem | None:
        rows = self.inbox.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.items):
            return None
        return self.items[rows[0].row()]

    def select_item(self, item_id: str) -> None:
        self.inbox.selectRow([item.id for item in self.items].index(item_id))

    def show_item(self) -> None:
        item = self.selected_item()
        self.restore_button.setEnabled(item is not None and item.restorable)
        self.dismiss_button.setEnabled(item is not None)
        self.fields.setRowCount(0)
        if item is None:
            self.detail_title.setText("Choose a change to see it field by field.")
            return
        what = f"{item.table.replace('_', ' ').capitalize()} {row_name(item)}: {_sentence(item.reason)}"
        if item.restorable:
            self.detail_title.setText(f"{what} Restore mine sends your values again; Dismiss keeps the server's.")
        elif item.kind in ("conflict", "set aside"):
            self.detail_title.setText(f"{what} The server's version stands: dismiss this once seen.")
        else:
            self.detail_title.setText(f"{what} The server refused this change: dismiss this once seen.")
        rows = field_rows(item)
        self.fields.setRowCount(len(rows))
        for row, (name, mine, server) in enumerate(rows):
            cells = (_cell(name), _cell(mine), _cell(server))
            if mine != server and item.server:
                for cell in cells[1:]:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
            for column, cell in enumerate(cells):
                self.fields.setItem(row, column, cell)

    def restore_mine(self) -> None:
        item = self.selected_item()
        if item is None or not item.restorable:
            return
        try:
            restore(self.ctx, item.id)
        except RxDeskError as exc:
            self.message.say(f"Not restored: {exc}", failed=True)
            return
        self.message.say(f"Restored: your values for {row_name(item)} are queued for the server.")
        announce(SYNC_CHANGED)  # the panel refreshes; sync sends it soon

    def dismiss_item(self) -> None:
        item = self.selected_item()
        if item is None:
            return
        try:
            dismiss(self.ctx, item.id)
        except RxDeskError as exc:
            self.message.say(f"Not dismissed: {exc}", failed=True)
            return
        self.message.say(f"Dismissed: the server's version of {row_name(item)} stands.")
        announce(SYNC_CHANGED)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _confirm(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "RxDesk", question)
    return answer == QMessageBox.StandardButton.Yes
