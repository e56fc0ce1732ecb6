"""Admin → Tokens: every token account's balance (with card top-ups paid here and not yet arrived), one account's
ledger for a period with the running balance, a top-up by card for the clinic's pool (desktop.top_up_dialog), a
manual credit (a top-up paid outside the app, on a standalone installation), and the statement printed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.context import UK, ServiceContext
from core.documents.formatting import format_uk_datetime
from core.errors import RxDeskError, ValidationError
from core.printing.token_statement import print_token_statement
from core.tokens.accounts import AccountSummary, list_accounts
from core.tokens.ledger import Statement, add_credit, statement, synced_installation
from core.tokens.top_ups import pending_top_ups
from core.users.roles import Permission, allowed
from desktop.form_dialog import FormDialog
from desktop.icons import icon
from desktop.message_line import MessageLine
from desktop.messages import error_text
from desktop.operation import Operation, change_notifier
from desktop.printing import DocumentKind, PrintPreviewDialog, preview_and_print
from desktop.topics import RECORDS_CHANGED, TOKENS_CHANGED

if TYPE_CHECKING:  # imported when first opened: it brings the Appwrite SDK (half a second)
    from desktop.top_up_dialog import TopUpDialog

ACCOUNT_COLUMNS = (
    "Account",
    "Kind",
    "Balance",
    "Can spend",
    "Not yet synced",
    "Card top-up pending",
    "Overdraft limit",
    "Server confirmed",
)
LINE_COLUMNS = ("When", "Entry", "Tokens", "Description", "Balance", "Synced")
KIND_NAMES = {"credit": "Credit", "debit": "Debit", "correction": "Correction"}
MAX_CREDIT = 1_000_000


def _cell(text: str, number: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setAccessibleName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    for column in range(len(columns)):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    return table


def balance_text(available: int, pending_top_up: int) -> str:
    """ "Tokens: 120", or "Tokens: 120 (+100 pending)" while a card top-up paid here has not arrived."""
    pending = f" (+{pending_top_up:,} pending)" if pending_top_up else ""
    return f"Tokens: {available:,}{pending}"


def _to_date(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class CreditDialog(FormDialog):
    changes = frozenset({RECORDS_CHANGED, TOKENS_CHANGED})

    def __init__(self, parent: QWidget, ctx: ServiceContext, account: AccountSummary) -> None:
        super().__init__(parent, f"Credit tokens to {account.name}", "Credit")
        self.ctx, self.account = ctx, account
        self.amount = QSpinBox()
        self.amount.setRange(0, MAX_CREDIT)
        self.amount.setAccessibleName("Tokens to credit")
        self.description = QLineEdit()
        self.description.setAccessibleName("What the credit is for")
        self.description.setPlaceholderText("e.g. invoice 2026-118 paid by bank transfer")
        self.form.addRow("Tokens", self.amount)
        self.form.addRow("For", self.description)
        hint = QLabel("Card top-ups arrive from the server by themselves: credit here only what was paid otherwise.")
        hint.setWordWrap(True)
        self.form.addRow("", hint)
        self.resize(480, self.sizeHint().height())
        self.amount.setFocus()
        self.amount.selectAll()

    def write(self) -> object:
        return add_credit(self.ctx, self.account.id, self.amount.value(), self.description.text())


class TokensPanel(QWidget):
    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("adminTokens")
        self.accounts: list[AccountSummary] = []
        self.shown: Statement | None = None
        self.dialog: FormDialog | None = None
        self.top_up_dialog: TopUpDialog | None = None
        self.pending: dict[str, int] = {}  # account id → tokens paid by card here, not arrived yet
        self.preview: PrintPreviewDialog | None = None

        self.account_table = _table(ACCOUNT_COLUMNS, "Token accounts")
        self.account_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        today = ctx.today()
        self.first_day = QDateEdit(QDate(today.year, today.month, 1))
        self.first_day.setAccessibleName("Statement from")
        self.last_day = QDateEdit(QDate(today.year, today.month, today.day))
        self.last_day.setAccessibleName("Statement to")
        for field in (self.first_day, self.last_day):
            field.setCalendarPopup(True)
            field.setDisplayFormat("dd MMM yyyy")
        self.title = QLabel("Choose an account to see its ledger.")
        self.title.setObjectName("counterTitle")
        self.title.setWordWrap(True)
        self.line_table = _table(LINE_COLUMNS, "Ledger entries")
        self.line_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.totals = QLabel()
        self.message = MessageLine()
        self.top_up_button = QPushButton("Top up by card…")
        self.top_up_button.setToolTip("Buy a token pack for the clinic's pool by card (paid through the server)")
        self.top_up_button.setAccessibleName("Top up the pool by card")
        self.top_up_button.setVisible(allowed(ctx.actor.role, Permission.MANAGE_TOKENS))
        self.credit_button = QPushButton("Credit tokens…")
        self.credit_button.setToolTip("A top-up paid outside the app, e.g. by bank transfer")
        # Typed-in credits are for an installation on its own: at a synced one the server's ledger is the truth, and
        # tokens come from a card top-up (core refuses them there too).
        self.credit_button.setVisible(
            allowed(ctx.actor.role, Permission.MANAGE_TOKENS) and not synced_installation(ctx)
        )
        self.print_button = QPushButton(icon("print"), "Print statement…")
        self.print_button.setShortcut("Ctrl+P")
        self.print_button.setToolTip("Preview and print the statement for the period (Ctrl+P)")

        period = QHBoxLayout()
        period.addWidget(QLabel("From"))
        period.addWidget(self.first_day)
        period.addWidget(QLabel("to"))
        period.addWidget(self.last_day)
        period.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.top_up_button)
        buttons.addWidget(self.credit_button)
        buttons.addStretch(1)
        buttons.addWidget(self.print_button)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.title)
        lower_layout.addLayout(period)
        lower_layout.addWidget(self.line_table, 1)
        lower_layout.addWidget(self.totals)
        lower_layout.addWidget(self.message)
        lower_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.account_table)
        splitter.addWidget(lower)
        splitter.setSizes([220, 520])
        QVBoxLayout(self).addWidget(splitter)
        tab_order = (
            self.account_table,
            self.first_day,
            self.last_day,
            self.line_table,
            self.top_up_button,
            self.credit_button,
            self.print_button,
        )
        for before, after in pairwise(tab_order):
            QWidget.setTabOrder(before, after)

        self.account_table.itemSelectionChanged.connect(self.show_statement)
        self.first_day.dateChanged.connect(self.show_statement)
        self.last_day.dateChanged.connect(self.show_statement)
        self.top_up_button.clicked.connect(self.top_up)
        self.credit_button.clicked.connect(self.credit)
        self.print_button.clicked.connect(self.print_statement)
        change_notifier().changed.connect(self._on_changes)
        self.refresh()

    def _on_changes(self, topics: frozenset[str]) -> None:
        if TOKENS_CHANGED in topics and self.isVisible():
            self.refresh()  # a top-up paid, or a sync that brought credits

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # signing elsewhere spends tokens
        super().showEvent(event)

    def refresh(self) -> None:
        selected = self.selected_account()
        try:
            # Typed-in credits are for an installation on its own: at a synced one the server's ledger is the
            # truth and tokens come from a card top-up (core refuses them there too).
            self.credit_button.setVisible(
                allowed(self.ctx.actor.role, Permission.MANAGE_TOKENS) and not synced_installation(self.ctx)
            )
            self.accounts = list_accounts(self.ctx)
            self.pending = {}
            for top_up in pending_top_ups(self.ctx):
                self.pending[top_up.account_id] = self.pending.get(top_up.account_id, 0) + top_up.tokens
        except RxDeskError as exc:
            self.message.say(str(exc), failed=True)
            return
        self.account_table.blockSignals(True)
        self.account_table.setRowCount(len(self.accounts))
        for row, account in enumerate(self.accounts):
            confirmed = format_uk_datetime(account.confirmed_at) if account.confirmed_at else "never"
            cells = (
                _cell(account.name),
                _cell(account.owner_kind.capitalize()),
                _cell(f"{account.ledger_balance:,}", number=True),
                _cell(f"{account.available:,}", number=True),
                _cell(f"{account.pending:+,}" if account.pending else "0", number=True),
                _cell(f"+{self.pending[account.id]:,}" if self.pending.get(account.id) else "", number=True),
                _cell(f"{account.overdraft_limit:,}", number=True),
                _cell(confirmed),
            )
            for column, item in enumerate(cells):
                self.account_table.setItem(row, column, item)
        ids = [account.id for account in self.accounts]
        if selected is not None and selected.id in ids:
            self.account_table.selectRow(ids.index(selected.id))
        elif self.accounts:
            self.account_table.selectRow(0)
        self.account_table.blockSignals(False)
        self.show_statement()

    def selected_account(self) -> AccountSummary | None:
        rows = self.account_table.selectionModel().selectedRows()
        if not rows or not self.accounts:
            return None
        return self.accounts[rows[0].row()]

    def period(self) -> tuple[date, date]:
        first, last = _to_date(self.first_day.date()), _to_date(self.last_day.date())
        if last < first:
            raise ValidationError("The statement period ends before it starts.")
        return first, last

    def show_statement(self) -> None:
        account = self.selected_account()
        self.credit_button.setEnabled(account is not None)
        self.top_up_button.setEnabled(account is not None and account.owner_kind == "organisation")
        self.print_button.setEnabled(account is not None)
        self.line_table.setRowCount(0)
        self.shown = None
        if account is None:
            self.title.setText("Choose an account to see its ledger.")
            self.totals.clear()
            return
        self.title.setText(f"{account.name} · {balance_text(account.available, self.pending.get(account.id, 0))}")
        try:
            first, last = self.period()
            start = datetime.combine(first, time(), UK)
            end = datetime.combine(last + timedelta(days=1), time(), UK)
            self.shown = statement(self.ctx, account.id, start, end)
        except RxDeskError as exc:
            self.totals.clear()
            self.message.say(str(exc), failed=True)
            return
        self.message.hide()
        lines = self.shown.lines
        self.line_table.setRowCount(len(lines))
        for row, line in enumerate(lines):
            cells = (
                _cell(format_uk_datetime(line.at)),
                _cell(KIND_NAMES.get(line.kind, line.kind)),
                _cell(f"{line.amount:+,}", number=True),
                _cell(line.description),
                _cell(f"{line.balance:,}", number=True),
                _cell("Yes" if line.confirmed else "Not yet"),
            )
            for column, item in enumerate(cells):
                self.line_table.setItem(row, column, item)
        self.totals.setText(
            f"Opening balance {self.shown.opening_balance:,} · {len(lines)} entries · "
            f"closing balance {self.shown.closing_balance:,}"
        )

    def top_up(self) -> TopUpDialog | None:
        """Buy a pack for the selected pool by card: admins buy for the clinic's pool (prescribers for their own
        account, from the status bar)."""
        account = self.selected_account()
        if account is None:
            return None
        from desktop.top_up_dialog import TopUpDialog

        dialog = TopUpDialog(self, self.ctx, account.id, account.name)
        self.top_up_dialog = dialog
        dialog.open()
        return dialog

    def credit(self) -> FormDialog | None:
        account = self.selected_account()
        if account is None:
            return None
        dialog = CreditDialog(self, self.ctx, account)
        dialog.written.connect(lambda entry: (self.refresh(), self.message.say(f"{entry.amount:,} tokens credited.")))
        self.dialog = dialog
        dialog.open()
        return dialog

    def print_statement(self) -> Operation | None:
        """The statement is rendered in a worker (ReportLab takes a moment for a long ledger), then previewed."""
        account = self.selected_account()
        if account is None:
            return None
        try:
            first, last = self.period()
        except RxDeskError as exc:
            self.message.say(str(exc), failed=True)
            return None
        ctx, title = self.ctx, f"Token statement: {account.name}"
        operation = Operation(lambda _report: print_token_statement(ctx, account.id, first, last))
        operation.succeeded.connect(lambda pdf: self._preview(title, pdf))
        operation.failed.connect(
            lambda error: self.message.say(f"The statement could not be printed: {error_text(error)}", failed=True)
        )
        self.print_button.setEnabled(False)
        operation.finished.connect(lambda: self.print_button.setEnabled(self.selected_account() is not None))
        return operation.start()

    def _preview(self, title: str, pdf: bytes) -> None:
        self.preview = preview_and_print(self, DocumentKind.REPORT, title, [pdf])
