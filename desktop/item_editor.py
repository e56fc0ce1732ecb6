"""One medicine of a prescription being written: dose, directions, quantity and days, with helpers.

The helpers (an amount and how often, the days, the product's pack sizes in its dm+d unit) fill the dose, the
directions and the total quantity; whatever the prescriber types over them stays as typed. For Schedule 2 and 3
the total quantity in words is filled from the figures too. What is finally added is checked by the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.prescriptions.dosing import (
    FREQUENCIES,
    FREQUENCY_BY_LABEL,
    PackSize,
    directions_text,
    dose_text,
    total_quantity,
    unit_for,
)
from core.prescriptions.products import ProductSnapshot
from core.prescriptions.quantity_words import quantity_in_words
from core.rules.prescribing import CD_WRITING_SCHEDULES

DEFAULT_DAYS = 28
MAX_PACK_BUTTONS = 4


@dataclass(frozen=True)
class ItemRequest:
    product_id: str
    dose: str
    directions: str
    quantity: str
    days_supply: int
    quantity_in_words: str | None


def schedule_badge(schedule: int | None) -> str:
    return f"CD Schedule {schedule}" if schedule else ""


class ItemEditor(QWidget):
    add_requested = Signal(object)  # ItemRequest
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("itemEditor")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)  # the QSS card background
        self.product: ProductSnapshot | None = None
        self.product_id = ""
        self._typed: set[str] = set()  # fields the prescriber typed over: the helpers leave them alone
        self.needs_words = False  # Schedule 2/3: the total quantity in words and figures

        self.title = QLabel()
        self.title.setObjectName("itemTitle")
        self.title.setWordWrap(True)
        self.badge = QLabel()
        self.badge.setObjectName("cdBadge")
        self.amount = QDoubleSpinBox()
        self.amount.setDecimals(2)
        self.amount.setRange(0.25, 1000)
        self.amount.setSingleStep(0.5)
        self.amount.setValue(1)
        self.amount.setAccessibleName("Amount per dose")
        self.unit_label = QLabel()
        self.frequency = QComboBox()
        self.frequency.setAccessibleName("How often")
        for f in FREQUENCIES:
            self.frequency.addItem(f.label)
        self.days = QSpinBox()
        self.days.setRange(1, 366)
        self.days.setValue(DEFAULT_DAYS)
        self.days.setSuffix(" days")
        self.days.setAccessibleName("Days' supply")
        self.dose = QLineEdit()
        self.dose.setAccessibleName("Dose")
        self.directions = QLineEdit()
        self.directions.setAccessibleName("Directions (printed on the label)")
        self.quantity = QLineEdit()
        self.quantity.setAccessibleName("Total quantity")
        self.quantity_unit = QLabel()
        self.packs = QHBoxLayout()
        self.words = QLineEdit()
        self.words.setAccessibleName("Total quantity in words and figures")
        self.words_label = QLabel("In words")
        self.add_button = QPushButton("Add to prescription")
        self.add_button.setDefault(True)
        self.add_button.setToolTip("Add this medicine (Enter)")
        cancel = QPushButton("Cancel")

        dose_row = QHBoxLayout()
        dose_row.addWidget(self.amount)
        dose_row.addWidget(self.unit_label)
        dose_row.addWidget(self.frequency, 1)
        quantity_row = QHBoxLayout()
        quantity_row.addWidget(self.quantity, 1)
        quantity_row.addWidget(self.quantity_unit)
        quantity_row.addLayout(self.packs)
        form = QFormLayout()
        form.addRow("Each dose", dose_row)
        form.addRow("For", self.days)
        form.addRow("Dose", self.dose)
        form.addRow("Directions", self.directions)
        form.addRow("Quantity", quantity_row)
        form.addRow(self.words_label, self.words)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        heading = QHBoxLayout()
        heading.addWidget(self.title, 1)
        heading.addWidget(self.badge, alignment=Qt.AlignmentFlag.AlignTop)
        layout.addLayout(heading)
        layout.addLayout(form)
        layout.addLayout(buttons)

        for field, name in ((self.dose, "dose"), (self.directions, "directions"), (self.quantity, "quantity"),
                            (self.words, "words")):  # fmt: skip
            field.textEdited.connect(lambda _text, name=name: self._typed.add(name))
        self.amount.valueChanged.connect(self._suggest)
        self.frequency.currentIndexChanged.connect(self._suggest)
        self.days.valueChanged.connect(self._suggest)
        self.quantity.textChanged.connect(self._suggest_words)
        for field in (self.dose, self.directions, self.quantity, self.words):
            field.returnPressed.connect(self.request_add)
        self.add_button.clicked.connect(self.request_add)
        cancel.clicked.connect(self.cancelled.emit)

    def edit(self, product_id: str, product: ProductSnapshot, packs: list[PackSize]) -> None:
        """Start on a product: the helpers' suggestions filled in, nothing typed yet."""
        self.product_id = product_id
        self.product = product
        self._typed.clear()
        described = ", ".join(p for p in (product.strength, product.form) if p)
        self.title.setText(f"<b>{product.name}</b>" + (f"<br>{described}" if described else ""))
        self.badge.setText(schedule_badge(product.cd_schedule))
        self.badge.setVisible(bool(product.cd_schedule))
        self.unit_label.setText(product.unit)
        self.quantity_unit.setText(product.unit)
        self._set_packs(packs)
        self.needs_words = product.cd_schedule in CD_WRITING_SCHEDULES
        self.words.setVisible(self.needs_words)
        self.words_label.setVisible(self.needs_words)
        self.amount.setValue(1)
        self.days.setValue(DEFAULT_DAYS)
        self.frequency.setCurrentIndex(0)
        self._suggest()
        self.dose.setFocus()

    def _set_packs(self, packs: list[PackSize]) -> None:
        while self.packs.count():
            item = self.packs.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()
        for pack in packs[:MAX_PACK_BUTTONS]:
            button = QPushButton(pack.label)
            button.setObjectName("packButton")
            button.setToolTip(f"Prescribe one pack of {pack.label}")
            button.clicked.connect(lambda _checked=False, q=pack.quantity: self.set_quantity(q))
            self.packs.addWidget(button)

    def set_quantity(self, quantity: Decimal) -> None:
        self._typed.add("quantity")
        self.quantity.setText(format(quantity.normalize(), "f"))

    def _suggest(self) -> None:
        if self.product is None:
            return
        amount = Decimal(str(round(self.amount.value(), 2))).normalize()
        frequency = FREQUENCY_BY_LABEL[self.frequency.currentText()]
        unit = self.product.unit
        self.unit_label.setText(unit_for(amount, unit))
        if "dose" not in self._typed:
            self.dose.setText(dose_text(amount, unit, frequency))
        if "directions" not in self._typed:
            self.directions.setText(directions_text(amount, unit, frequency))
        if "quantity" not in self._typed:
            total = total_quantity(amount, frequency, self.days.value())
            self.quantity.setText(format(total, "f") if total is not None else "")
        self._suggest_words()

    def _suggest_words(self) -> None:
        if self.product is None or "words" in self._typed or not self.needs_words:
            return
        quantity = self._quantity()
        self.words.setText(quantity_in_words(quantity, self.product.unit) if quantity else "")

    def _quantity(self) -> Decimal | None:
        try:
            value = Decimal(self.quantity.text().strip())
        except InvalidOperation:
            return None
        return value if value.is_finite() and value > 0 else None

    def request_add(self) -> None:
        if self.product is None:
            return
        self.add_requested.emit(
            ItemRequest(
                product_id=self.product_id,
                dose=self.dose.text(),
                directions=self.directions.text(),
                quantity=self.quantity.text(),
                days_supply=self.days.value(),
                quantity_in_words=self.words.text() if self.needs_words else None,
            )
        )
