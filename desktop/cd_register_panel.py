"""The controlled drugs register (pharmacists): the products with a register and their balances, each product's
entries with the running balance, stock booked in, corrections with a typed reason, and the register printed.

Supplies are entered by dispensing, never here; an entry is never edited, only corrected by a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.dispensing.cd_register import RegisterProduct, register_products
from core.dispensing.register_view import RegisterLine, register_lines
from core.dispensing.values import qty
from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from core.printing.cd_register import print_cd_register
from desktop.cd_register_dialogs import CorrectionDialog, ReceiptDialog
from desktop.icons import icon
from desktop.messages import error_text
from desktop.operation import Operation
from desktop.printing import DocumentKind, PrintPreviewDialog, preview_and_print

COLUMNS = ("No.", "Date", "Entry", "From / to", "Prescriber", "Quantity", "Balance", "Entered by", "Reference")
KIND_NAMES = {"receipt": "Received", "supply": "Supplied", "correction": "Correction"}


class CdRegisterPanel(QWidget):
    def __init__(
        self, ctx: ServiceContext, catalogue: Callable[[], Catalogue | None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.catalogue = catalogue
        self.setObjectName("cdRegisterPanel")
        self.products: list[RegisterProduct] = []
        self.lines: list[RegisterLine] = []
        self.dialog: QDialog | None = None  # the receipt or correction being entered
        self.preview: PrintPreviewDialog | None = None

        self.product_list = QListWidget()
        self.product_list.setAccessibleName("Controlled drugs in the register")
        self.product_list.setWordWrap(True)
        self.title = QLabel("Choose a product to see its register.")
        self.title.setObjectName("counterTitle")
        self.title.setWordWrap(True)
        self.entries = QTableWidget(0, len(COLUMNS))
        self.entries.setHorizontalHeaderLabels(COLUMNS)
        self.entries.setAccessibleName("Register entries")
        self.entries.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.entries.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.entries.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.entries.setWordWrap(True)
        self.entries.verticalHeader().hide()
        header = self.entries.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.message = QLabel()
        self.message.setObjectName("counterMessage")
        self.message.setWordWrap(True)
        self.receipt_button = QPushButton("Book in stock received…")
        self.receipt_button.setToolTip("Enter controlled drugs received from a supplier (Ctrl+R)")
        self.receipt_button.setShortcut("Ctrl+R")
        self.correct_button = QPushButton("Correct the selected entry…")
        self.correct_button.setToolTip("Put a mistake right with a new entry that says why")
        self.correct_button.setEnabled(False)
        self.print_button = QPushButton(icon("print"), "Print the register…")
        self.print_button.setToolTip("Preview and print this product's register (Ctrl+P)")
        self.print_button.setShortcut("Ctrl+P")
        self.print_button.setEnabled(False)

        left = QVBoxLayout()
        left.addWidget(QLabel("Controlled drugs"))
        left.addWidget(self.product_list, 1)
        left_box = QWidget()
        left_box.setLayout(left)
        buttons = QHBoxLayout()
        buttons.addWidget(self.receipt_button)
        buttons.addWidget(self.correct_button)
        buttons.addStretch(1)
        buttons.addWidget(self.print_button)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.entries, 1)
        right.addWidget(self.message)
        right.addLayout(buttons)
        right_box = QWidget()
        right_box.setLayout(right)
        splitter = QSplitter()
        splitter.addWidget(left_box)
        splitter.addWidget(right_box)
        splitter.setSizes([240, 960])
        QVBoxLayout(self).addWidget(splitter)
        tab_order = (self.product_list, self.entries, self.receipt_button, self.correct_button, self.print_button)
        for before, after in pairwise(tab_order):
            QWidget.setTabOrder(before, after)

        self.product_list.currentItemChanged.connect(self._product_chosen)
        self.entries.itemSelectionChanged.connect(
            lambda: self.correct_button.setEnabled(self.selected_line() is not None)
        )
        self.receipt_button.clicked.connect(self.book_receipt)
        self.correct_button.clicked.connect(self.correct_selected)
        self.print_button.clicked.connect(self.print_register)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # supplies are entered at the counter: fresh whenever looked at
        super().showEvent(event)

    # -- reading -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        current = self.product_id()
        try:
            self.products = register_products(self.ctx)
        except RxDeskError as exc:
            self.say(str(exc), failed=True)
            return
        self.product_list.blockSignals(True)
        self.product_list.clear()
        for product in self.products:
            item = QListWidgetItem(f"{product.product_name}\nbalance {qty(product.balance)}")
            item.setData(Qt.ItemDataRole.UserRole, product.product_id)
            item.setToolTip(product.product_name)
            self.product_list.addItem(item)
        self.product_list.blockSignals(False)
        ids = [p.product_id for p in self.products]
        if current in ids:
            self.product_list.setCurrentRow(ids.index(current))  # shows it
        elif self.products:
            self.product_list.setCurrentRow(0)  # shows it
        else:
            self.say("No controlled drugs are in this pharmacy's register yet: book in the first stock received.")

    def product_id(self) -> str | None:
        item = self.product_list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def product(self) -> RegisterProduct | None:
        wanted = self.product_id()
        return next((p for p in self.products if p.product_id == wanted), None)

    def _product_chosen(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None:
            self.show_product(str(item.data(Qt.ItemDataRole.UserRole)))

    def show_product(self, product_id: str) -> None:
        try:
            self.lines = register_lines(self.ctx, product_id)
        except RxDeskError as exc:
            self.say(str(exc), failed=True)
            return
        product = self.product()
        name = product.product_name if product else product_id
        self.title.setText(f"{name} · balance {qty(self.lines[-1].balance) if self.lines else '0'}")
        self.entries.setRowCount(len(self.lines))
        for row, line in enumerate(self.lines):
            kind = KIND_NAMES.get(line.kind, line.kind)
            if line.corrects_seq is not None:
                kind = f"{kind} of no. {line.corrects_seq}"
            when = f"{line.recorded_at:%d/%m/%Y %H:%M}"
            counterparty = ", ".join(part.strip() for part in line.counterparty.splitlines() if part.strip())
            cells = (str(line.seq), when, kind, counterparty, line.prescriber or "", _signed(line),
                     qty(line.balance), line.entered_by, line.reference)  # fmt: skip
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column in (0, 5, 6):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.entries.setItem(row, column, cell)
        self.entries.resizeRowsToContents()
        if self.lines:
            self.entries.scrollToBottom()  # the latest entries and the balance now
        self.print_button.setEnabled(bool(self.lines))
        self.correct_button.setEnabled(self.selected_line() is not None)
        self.say(f"{len(self.lines)} entr{'ies' if len(self.lines) != 1 else 'y'}; the balance is after each entry.")

    def selected_line(self) -> RegisterLine | None:
        rows = self.entries.selectionModel().selectedRows()
        return self.lines[rows[0].row()] if rows and rows[0].row() < len(self.lines) else None

    # -- writing -------------------------------------------------------------------------------------------
    def book_receipt(self) -> ReceiptDialog:
        product = self.product()
        chosen = (product.product_id, product.product_name) if product else None
        dialog = ReceiptDialog(self, self.ctx, self.catalogue, chosen)
        self._open(dialog)
        return dialog

    def correct_selected(self) -> CorrectionDialog | None:
        line = self.selected_line()
        if line is None:
            self.say("Choose the entry to correct first.", failed=True)
            return None
        dialog = CorrectionDialog(self, self.ctx, line)
        self._open(dialog)
        return dialog

    def _open(self, dialog: ReceiptDialog | CorrectionDialog) -> None:
        dialog.written.connect(self._entry_added)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog = dialog
        dialog.open()

    def _entry_added(self, entry: object) -> None:
        product_id = getattr(entry, "product_id", None)
        self.refresh()
        ids = [p.product_id for p in self.products]
        if product_id in ids:
            self.product_list.setCurrentRow(ids.index(product_id))
        self.say(f"Entered. {self.title.text()}")

    # -- printing ------------------------------------------------------------------------------------------
    def print_register(self) -> Operation | None:
        product_id, catalogue = self.product_id(), self.catalogue()
        if product_id is None:
            return None
        if catalogue is None:
            self.say("The medicines catalogue is not ready yet: print the register in a moment.", failed=True)
            return None
        ctx = self.ctx
        operation = Operation(lambda _report: print_cd_register(ctx, catalogue, product_id))
        operation.succeeded.connect(self._preview)
        operation.failed.connect(self._print_failed)
        self.print_button.setEnabled(False)
        operation.finished.connect(self._print_finished)
        return operation.start()

    def _print_finished(self) -> None:
        self.print_button.setEnabled(bool(self.lines))

    def _preview(self, pdf: bytes) -> None:
        product = self.product()
        title = f"CD register: {product.product_name}" if product else "CD register"
        self.preview = preview_and_print(self, DocumentKind.REPORT, title, [pdf])

    def _print_failed(self, error: BaseException) -> None:
        self.say(error_text(error), failed=True)

    def say(self, text: str, *, failed: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("outcome", "block" if failed else "allow")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)


def _signed(line: RegisterLine) -> str:
    return f"+{qty(line.quantity)}" if line.quantity > 0 else qty(line.quantity)
