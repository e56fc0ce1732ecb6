"""The pharmacy counter: the queue, a prescription opened by scanning its barcode (or searching), each item's
packs scanned and checked against what was prescribed, then all or part dispensed; the rest is owed.

Scanning is the flow: a scan of a prescription id opens it; a scan of a pack checks it against the selected item
(a wrong pack is refused, naming both products). Nothing is dispensed until Dispense is pressed, and the core
refuses anything the rules do not allow, with its own message. After dispensing, the labels and the receipt are
previewed and printed (desktop.printing). Keys: F5 dispenses, F9 prints the labels, F8 the receipt (the workspace
adds F2 to find).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from itertools import pairwise

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
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
from core.dispensing.model import DispensingRefused, DispensingResult, SupplyLine
from core.dispensing.queries import dispensing_queue, find_for_dispensing, patients_of
from core.dispensing.scan import verify_scan
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from core.patients.summary import patient_summary
from core.printing import dispensing as dispensing_prints
from core.rules.model import Outcome
from core.storage.models import Prescription, PrescriptionItem
from core.users.roles import Permission, allowed
from desktop.icons import icon
from desktop.messages import error_text
from desktop.operation import Operation, announce
from desktop.printing import DocumentKind, PrintPreviewDialog, preview_and_print
from desktop.scanner import ScanDetector
from desktop.topics import DISPENSINGS_CHANGED, PRESCRIPTIONS_CHANGED

PRESCRIPTION_ID = re.compile(r"[0-9a-fA-F]{32}")
COLUMNS = ("Item", "Prescribed", "Still to supply", "Supply now", "Pack scanned")


def ask_reason(parent: QWidget, warning: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "RxDesk", f"{warning}\n\nReason to go ahead:")
    return text if ok else None


class CounterPanel(QWidget):
    opened = Signal(str)  # the prescription id now on the counter
    dispensed = Signal(object)  # the DispensingResult

    def __init__(
        self,
        ctx: ServiceContext,
        catalogue: Callable[[], Catalogue | None],
        parent: QWidget | None = None,
        reason: Callable[[QWidget, str], str | None] = ask_reason,
        scan_area: QWidget | None = None,  # where a scan is heard (default: this panel)
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.catalogue = catalogue  # a callable: the catalogue may still be building when the panel opens
        self.reason = reason
        self.setObjectName("counterPanel")
        self.prescription: Prescription | None = None
        self.scans: dict[str, str] = {}  # item id → GTIN of the pack checked for it
        self.overrides: dict[str, str] = {}
        self.last_dispensing: DispensingResult | None = None
        self.preview: PrintPreviewDialog | None = None  # the labels or receipt last previewed
        self._print_kind = DocumentKind.LABEL

        self.find_box = QLineEdit()
        self.find_box.setObjectName("searchBox")
        self.find_box.setPlaceholderText("Scan the prescription's barcode, or find by patient…")
        self.find_box.setAccessibleName("Find a prescription")
        self.queue = QListWidget()
        self.queue.setAccessibleName("Prescriptions waiting")
        self.title = QLabel("Scan a prescription, or choose one from the queue.")
        self.title.setObjectName("counterTitle")
        self.title.setWordWrap(True)
        self.items = QTableWidget(0, len(COLUMNS))
        self.items.setHorizontalHeaderLabels(COLUMNS)
        header = self.items.horizontalHeader()
        for column in range(len(COLUMNS)):  # the product's name takes the room; the figures need little
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.items.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.items.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.items.setAccessibleName("Items of the prescription")
        self.message = QLabel()
        self.message.setObjectName("counterMessage")
        self.message.setWordWrap(True)
        may_dispense = allowed(ctx.actor.role, Permission.DISPENSE)
        self.dispense_button = QPushButton("Dispense")
        self.dispense_button.setToolTip("Supply the quantities set now; the rest is owed (F5)")
        self.dispense_button.setEnabled(False)
        self.dispense_button.setVisible(may_dispense)
        self.labels_button = QPushButton(icon("print"), "Print labels")
        self.labels_button.setToolTip("Preview and print a label for each item just dispensed (F9)")
        self.receipt_button = QPushButton(icon("print"), "Print receipt")
        self.receipt_button.setToolTip("Preview and print the receipt of what was just dispensed (F8)")
        for button in (self.labels_button, self.receipt_button):
            button.setEnabled(False)
            button.setVisible(may_dispense)

        left = QVBoxLayout()
        left.addWidget(QLabel("Waiting to be dispensed"))
        left.addWidget(self.queue, 1)
        left_box = QWidget()
        left_box.setLayout(left)
        right = QVBoxLayout()
        right.addWidget(self.title)
        right.addWidget(self.items, 1)
        right.addWidget(self.message)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.labels_button)
        actions.addWidget(self.receipt_button)
        actions.addWidget(self.dispense_button)
        right.addLayout(actions)
        right_box = QWidget()
        right_box.setLayout(right)
        splitter = QSplitter()
        splitter.addWidget(left_box)
        splitter.addWidget(right_box)
        splitter.setSizes([380, 820])
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.find_box, 1)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        tab_order = (self.find_box, self.queue, self.items, self.dispense_button, self.labels_button,
                     self.receipt_button)  # fmt: skip
        for before, after in pairwise(tab_order):
            QWidget.setTabOrder(before, after)
        self.scanner = ScanDetector(scan_area or self)
        self.scanner.scanned.connect(self.scanned)
        self.find_box.returnPressed.connect(lambda: self.find(self.find_box.text()))
        self.queue.itemActivated.connect(lambda item: self.open(str(item.data(Qt.ItemDataRole.UserRole))))
        self.queue.currentItemChanged.connect(
            lambda item, _old: item is not None and self.open(str(item.data(Qt.ItemDataRole.UserRole)))
        )
        self.dispense_button.clicked.connect(self.dispense)
        self.labels_button.clicked.connect(self.print_labels)
        self.receipt_button.clicked.connect(self.print_receipt)
        # Active only while the panel is shown (the counter's tab is the current one).
        for key, action in (("F5", self.dispense), ("F9", self.print_labels), ("F8", self.print_receipt)):
            QShortcut(QKeySequence(key), self, action)
        self.refresh_queue()

    # -- finding -------------------------------------------------------------------------------------------
    def refresh_queue(self) -> None:
        self._list(dispensing_queue(self.ctx))

    def _list(self, prescriptions: list[Prescription]) -> None:
        """One entry per prescription: whom it is for and when it was signed; the items in the tooltip."""
        self.queue.clear()
        patients = patients_of(self.ctx, prescriptions)
        for rx in prescriptions:
            patient = patients.get(rx.patient_id)
            who = f"{patient.family_name.upper()}, {patient.given_name}" if patient else "Unknown patient"
            count = len(rx.items)
            signed = f"{rx.signed_at:%d/%m %H:%M}" if rx.signed_at else ""
            item = QListWidgetItem(f"{who}\n{signed} · {count} item{'s' if count != 1 else ''} · {rx.status}")
            item.setToolTip("\n".join(i.product_name for i in rx.items))
            item.setData(Qt.ItemDataRole.UserRole, rx.id)
            self.queue.addItem(item)

    def find(self, text: str) -> None:
        try:
            found = find_for_dispensing(self.ctx, text)
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        if not found:
            self.say(f"Nothing to dispense for {text.strip()!r}.", Outcome.WARN)
        elif len(found) == 1:
            self.open(found[0].id)
        else:
            self._list(found)
            self.say(f"{len(found)} prescriptions found: choose one.", Outcome.ALLOW)

    def scanned(self, code: str) -> None:
        if PRESCRIPTION_ID.fullmatch(code):
            self.open(code.lower())
        elif self.prescription is None:
            self.say("Scan the prescription first, then its packs.", Outcome.WARN)
        else:
            self.check_pack(code)

    def open(self, prescription_id: str) -> None:
        try:
            [rx] = find_for_dispensing(self.ctx, prescription_id)
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        self.prescription = rx
        self.scans.clear()
        self.overrides.clear()
        patient = patients_of(self.ctx, [rx]).get(rx.patient_id)
        who = patient_summary(patient) if patient else "Unknown patient"
        self.title.setText(f"{who}\nPrescription {rx.id} · {rx.status} · valid until {rx.valid_until:%d/%m/%Y}")
        self.items.setRowCount(len(rx.items))
        for row, item in enumerate(rx.items):
            outstanding = item.quantity - item.quantity_supplied
            self.items.setItem(row, 0, QTableWidgetItem(item.product_name))
            self.items.setItem(row, 1, QTableWidgetItem(f"{item.quantity} {item.unit}"))
            self.items.setItem(row, 2, QTableWidgetItem(f"{outstanding} {item.unit}"))
            amount = QDoubleSpinBox()
            amount.setDecimals(3 if outstanding != outstanding.to_integral() else 0)
            amount.setRange(0, float(outstanding))
            amount.setValue(float(outstanding))
            amount.setAccessibleName(f"Supply now: {item.product_name}")
            self.items.setCellWidget(row, 3, amount)
            self.items.setItem(row, 4, QTableWidgetItem("not scanned"))
        if rx.items:
            self.items.selectRow(0)
        self.dispense_button.setEnabled(True)
        self.say("Scan each pack to check it against the prescription.", Outcome.ALLOW)
        self.opened.emit(rx.id)

    # -- packs -----------------------------------------------------------------------------------------------
    def selected_item(self) -> PrescriptionItem | None:
        if self.prescription is None:
            return None
        rows = self.items.selectionModel().selectedRows()
        row = rows[0].row() if rows else 0
        return self.prescription.items[row] if 0 <= row < len(self.prescription.items) else None

    def check_pack(self, gtin: str) -> None:
        item = self.selected_item()
        catalogue = self.catalogue()
        if item is None or catalogue is None:
            self.say("The medicines catalogue is not ready yet: check the pack by hand.", Outcome.WARN)
            return
        result = verify_scan(self.ctx, catalogue, item, gtin)
        row = self.prescription.items.index(item) if self.prescription else 0
        if result.outcome is Outcome.BLOCK:
            self.say(result.message, Outcome.BLOCK)
            return
        if result.outcome is Outcome.WARN:
            reason = self.reason(self, result.message)
            if not reason:
                self.say("Pack not accepted: " + result.message, Outcome.WARN)
                return
            self.overrides[result.key] = reason
        self.scans[item.id] = result.gtin
        checked = QTableWidgetItem("✓ pack checked")
        checked.setToolTip(result.pack_name or gtin)  # the full pack name is long; it is in the message too
        self.items.setItem(row, 4, checked)
        self.say(result.message, Outcome.ALLOW)

    # -- dispensing ------------------------------------------------------------------------------------------
    def supply_lines(self) -> list[SupplyLine]:
        assert self.prescription is not None
        lines = []
        for row, item in enumerate(self.prescription.items):
            widget = self.items.cellWidget(row, 3)
            assert isinstance(widget, QDoubleSpinBox)
            amount = Decimal(str(round(widget.value(), 3))).normalize()
            if amount > 0:
                lines.append(SupplyLine(item.id, amount, self.scans.get(item.id)))
        return lines

    def dispense(self) -> None:
        catalogue = self.catalogue()
        if self.prescription is None or catalogue is None:
            return
        lines = self.supply_lines()
        if not lines:
            self.say("Nothing to supply: set how much of each item is supplied now.", Outcome.WARN)
            return
        try:
            result = dispense_items(self.ctx, catalogue, self.prescription.id, lines, overrides=self.overrides)
        except DispensingRefused as exc:
            warnings = [r for r in exc.results if r.outcome is Outcome.WARN and r.key not in self.overrides]
            if exc.blocked or not warnings:
                self.say(str(exc), Outcome.BLOCK)
                return
            for warning in warnings:
                reason = self.reason(self, warning.message)
                if not reason:
                    self.say("Not dispensed: " + warning.message, Outcome.WARN)
                    return
                self.overrides[warning.key] = reason
            self.dispense()
            return
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        owed = "; ".join(f"{o.quantity} {o.unit} of {o.product_name} owed until {o.expires_on:%d/%m/%Y}"
                         for o in result.owings)  # fmt: skip
        parts = (f"Dispensed ({result.prescription_status}).", f"{owed}." if owed else "",
                 "F9 prints the labels, F8 the receipt.")  # fmt: skip
        self.say(" ".join(p for p in parts if p), Outcome.ALLOW)
        announce(DISPENSINGS_CHANGED, PRESCRIPTIONS_CHANGED)
        self.last_dispensing = result
        self.prescription = None
        self.dispense_button.setEnabled(False)
        self.labels_button.setEnabled(True)
        self.receipt_button.setEnabled(True)
        self.items.setRowCount(0)
        self.refresh_queue()
        self.find_box.setFocus()  # ready for the next scan
        self.dispensed.emit(result)

    # -- printing --------------------------------------------------------------------------------------------
    def print_labels(self) -> Operation | None:
        """Render the last dispensing's labels off the UI thread (the print is audited), then preview them."""
        ctx, result = self.ctx, self.last_dispensing
        if result is None or not allowed(ctx.actor.role, Permission.DISPENSE):
            return None
        return self._print(lambda: dispensing_prints.print_labels(ctx, result.dispensing_id), DocumentKind.LABEL)

    def print_receipt(self) -> Operation | None:
        ctx, result = self.ctx, self.last_dispensing
        if result is None or not allowed(ctx.actor.role, Permission.DISPENSE):
            return None
        return self._print(lambda: [dispensing_prints.print_receipt(ctx, result.dispensing_id)], DocumentKind.RECEIPT)

    def _print(self, render: Callable[[], list[bytes]], kind: DocumentKind) -> Operation:
        self._print_kind = kind
        operation = Operation(lambda _report: render())
        operation.succeeded.connect(self._show_preview)
        operation.failed.connect(self._print_failed)
        return operation.start()

    def _show_preview(self, pdfs: list[bytes]) -> None:
        title = "Labels" if self._print_kind is DocumentKind.LABEL else "Receipt"
        self.preview = preview_and_print(self, self._print_kind, title, pdfs)

    def _print_failed(self, error: BaseException) -> None:
        self.say(error_text(error), Outcome.BLOCK)

    def say(self, text: str, outcome: Outcome) -> None:
        self.message.setText(text)
        self.message.setProperty("outcome", outcome.value)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
