"""Entries a pharmacist adds to the controlled drugs register by hand: stock received, and corrections.

Each dialog calls the core service itself when OK is pressed and stays open with the core's message when it is
refused, so nothing is half-written and nothing typed is lost. ``written`` carries the new entry.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from core.context import ServiceContext
from core.dispensing.cd_register import REGISTER_SCHEDULES, record_correction, record_receipt
from core.dispensing.register_view import RegisterLine
from core.dispensing.values import qty
from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from desktop.form_dialog import FormDialog

MAX_PRODUCTS = 20


class ReceiptDialog(FormDialog):
    """Stock received from a supplier: which Schedule 2 product, how much, from whom."""

    def __init__(
        self,
        parent: QWidget,
        ctx: ServiceContext,
        catalogue: Callable[[], Catalogue | None],
        product: tuple[str, str] | None = None,  # (VMP id, name) of the register shown
    ) -> None:
        super().__init__(parent, "Book in controlled drugs received", "Book in")
        self.ctx = ctx
        self.catalogue = catalogue
        self.product_search = QLineEdit()
        self.product_search.setPlaceholderText("Type to find a Schedule 2 product…")
        self.product_search.setAccessibleName("Find the product received")
        self.products = QListWidget()
        self.products.setAccessibleName("Products")
        self.products.setMaximumHeight(160)
        self.quantity = QLineEdit()
        self.quantity.setAccessibleName("Quantity received")
        self.quantity.setPlaceholderText("e.g. 100")
        self.supplier = QLineEdit()
        self.supplier.setAccessibleName("Supplier's name and address")
        self.supplier.setPlaceholderText("e.g. Alliance Healthcare, Leeds LS10 1AB")
        self.form.addRow("Product", self.product_search)
        self.form.addRow("", self.products)
        self.form.addRow("Quantity", self.quantity)
        self.form.addRow("Supplier", self.supplier)
        self.resize(560, self.sizeHint().height())
        self.product_search.textEdited.connect(self.find_products)
        if product is not None:
            self._add_product(*product)
            self.products.setCurrentRow(0)
            self.quantity.setFocus()
        else:
            self.product_search.setFocus()

    def _add_product(self, vmp_id: str, name: str) -> None:
        item = QListWidgetItem(name)
        item.setData(Qt.ItemDataRole.UserRole, (vmp_id, name))
        self.products.addItem(item)

    def find_products(self, text: str) -> None:
        catalogue = self.catalogue()
        self.products.clear()
        if catalogue is None:
            self.error.setText("The medicines catalogue is not ready yet: try again in a moment.")
            self.error.show()
            return
        if len(text.strip()) < 2:
            return
        hits = catalogue.search(text, kinds=("vmp",), cd_schedules=frozenset(REGISTER_SCHEDULES), limit=MAX_PRODUCTS)
        for hit in hits:
            self._add_product(str(hit.id), hit.name)
        if hits:
            self.products.setCurrentRow(0)

    def chosen_product(self) -> tuple[str, str] | None:
        item = self.products.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def write(self) -> object:
        product = self.chosen_product()
        if product is None:
            raise _Incomplete("Choose the product received.")
        vmp_id, name = product
        return record_receipt(self.ctx, vmp_id, name, self.quantity.text(), self.supplier.text())


class CorrectionDialog(FormDialog):
    """A new entry that puts a mistaken one right: the change to the balance (+ or −) and why."""

    def __init__(self, parent: QWidget, ctx: ServiceContext, line: RegisterLine) -> None:
        super().__init__(parent, f"Correct register entry {line.seq}", "Record the correction")
        self.ctx = ctx
        self.line = line
        what = QLabel(
            f"{line.recorded_at:%d/%m/%Y %H:%M} · {line.kind} of {qty(line.quantity)} · balance after "
            f"{qty(line.balance)}{f' · {line.counterparty}' if line.counterparty else ''}"
        )
        what.setWordWrap(True)
        self.change = QLineEdit()
        self.change.setAccessibleName("Change to the balance")
        self.change.setPlaceholderText("e.g. -2 or +5")
        self.reason = QLineEdit()
        self.reason.setAccessibleName("Reason for the correction")
        self.reason.setPlaceholderText("Why the register was wrong (kept with the entry)")
        self.form.addRow("Entry", what)
        self.form.addRow("Change", self.change)
        self.form.addRow("Reason", self.reason)
        self.resize(560, self.sizeHint().height())
        self.change.setFocus()

    def write(self) -> object:
        text = self.change.text().strip().replace("−", "-").removeprefix("+")
        return record_correction(self.ctx, self.line.entry_id, text, self.reason.text())


class _Incomplete(RxDeskError):
    """A field the dialog needs before the core is asked."""
