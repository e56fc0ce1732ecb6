"""Admin → Users: every account with its role and state; add, deactivate or reactivate, new password or PIN."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.documents.formatting import format_uk_datetime
from core.errors import RxDeskError
from core.users.directory import UserSummary, list_users
from core.users.organisations import list_organisations
from desktop.admin_user_dialogs import ROLE_NAMES, ActivationDialog, NewUserDialog, ResetSecretsDialog
from desktop.form_dialog import FormDialog
from desktop.message_line import MessageLine

COLUMNS = ("Name", "User name", "Role", "Organisation", "Registration", "PIN", "State")


def user_state(user: UserSummary) -> str:
    if not user.active:
        return "Deactivated"
    if user.locked_until is not None:
        return f"Locked until {format_uk_datetime(user.locked_until)}"
    return "Active"


class UsersPanel(QWidget):
    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("adminUsers")
        self.users: list[UserSummary] = []
        self.dialog: FormDialog | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Users")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.message = MessageLine()
        self.add_button = QPushButton("Add a user…")
        self.add_button.setShortcut("Ctrl+N")
        self.add_button.setToolTip("A new account for a prescriber, pharmacist, technician or admin (Ctrl+N)")
        self.activation_button = QPushButton("Deactivate…")
        self.activation_button.setToolTip("Stop (or allow again) signing in to the selected account, with a reason")
        self.reset_button = QPushButton("New password or PIN…")
        self.reset_button.setToolTip("For someone who lost theirs; also lifts a lockout")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.activation_button, self.reset_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        for before, after in pairwise((self.table, self.add_button, self.activation_button, self.reset_button)):
            QWidget.setTabOrder(before, after)

        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.add_button.clicked.connect(self.add_user)
        self.activation_button.clicked.connect(self.change_activation)
        self.reset_button.clicked.connect(self.reset_secrets)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # lockouts change as people sign in elsewhere
        super().showEvent(event)

    def refresh(self) -> None:
        selected = self.selected_user()
        try:
            self.users = list_users(self.ctx)
        except RxDeskError as exc:
            self.say(str(exc), failed=True)
            return
        self.table.setRowCount(len(self.users))
        for row, user in enumerate(self.users):
            cells = (
                user.full_name,
                user.username,
                ROLE_NAMES.get(user.role, user.role.value),
                user.organisation_name or "",
                user.registration_number or "",
                "Yes" if user.has_pin else "No",
                user_state(user),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, user.id)
                if not user.active:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(row, column, item)
        ids = [user.id for user in self.users]
        if selected is not None and selected.id in ids:
            self.table.selectRow(ids.index(selected.id))
        self._selection_changed()

    def selected_user(self) -> UserSummary | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or not self.users:
            return None
        return self.users[rows[0].row()]

    def select_user(self, username: str) -> None:
        self.table.selectRow(next(i for i, user in enumerate(self.users) if user.username == username))

    def _selection_changed(self) -> None:
        user = self.selected_user()
        self.activation_button.setEnabled(user is not None)
        self.reset_button.setEnabled(user is not None and user.active)
        self.activation_button.setText("Reactivate…" if user is not None and not user.active else "Deactivate…")

    def say(self, text: str, *, failed: bool = False) -> None:
        self.message.say(text, failed=failed)

    # -- actions ----------------------------------------------------------------------------------------------
    def _open(self, dialog: FormDialog, done: str) -> FormDialog:
        self.dialog = dialog
        dialog.written.connect(lambda _result: (self.refresh(), self.say(done)))  # connected first: runs first
        dialog.open()
        return dialog

    def add_user(self) -> FormDialog | None:
        try:
            organisations = list_organisations(self.ctx)
        except RxDeskError as exc:
            self.say(str(exc), failed=True)
            return None
        dialog = self._open(NewUserDialog(self, self.ctx, organisations), "The user was added: they can sign in now.")
        dialog.written.connect(lambda user: self.select_user(user.username))
        return dialog

    def change_activation(self) -> FormDialog | None:
        user = self.selected_user()
        if user is None:
            return None
        done = f"{user.full_name} can sign in again." if not user.active else f"{user.full_name} is deactivated."
        return self._open(ActivationDialog(self, self.ctx, user), done)

    def reset_secrets(self) -> FormDialog | None:
        user = self.selected_user()
        if user is None:
            return None
        done = f"{user.full_name}'s new password or PIN is saved; tell them in person."
        return self._open(ResetSecretsDialog(self, self.ctx, user), done)
