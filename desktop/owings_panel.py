"""The pharmacy's owings: what it still owes patients (product, quantity, until when, whether it is ready), soonest
last day first. Choosing one opens its prescription at the counter, where the rest is supplied as any dispensing is.
When the owed stock arrives, "Ready for collection" marks the owing ready: the patient is told (if they agreed)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.context import UK, ServiceContext
from core.dispensing.model import OpenOwing, OwingStatus
from core.dispensing.owings import mark_owing_ready
from core.dispensing.queries import open_owings_of_organisation
from core.dispensing.values import qty, uk_date
from core.errors import RxDeskError
from core.users.roles import Permission, allowed

COLUMNS = ("Patient", "Medicine", "Owed", "Until", "Owed since", "Status")
STATUS_TEXT = {OwingStatus.OPEN.value: "Awaiting stock", OwingStatus.READY.value: "Ready for collection"}


class OwingsPanel(QWidget):
    supply_requested = Signal(str)  # the prescription id of the owing chosen

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("owingsPanel")
        self.owings: list[OpenOwing] = []

        heading = QLabel("Owed to patients")
        heading.setObjectName("counterTitle")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Open owings")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3, 4, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.message = QLabel()
        self.message.setObjectName("counterMessage")
        self.message.setWordWrap(True)
        self.supply_button = QPushButton("Supply the owing")
        self.supply_button.setToolTip("Open its prescription at the counter to supply what is owed (Enter)")
        self.supply_button.setEnabled(False)
        self.ready_button = QPushButton("Ready for collection")
        self.ready_button.setToolTip("The owed stock has arrived: the patient is told it is ready to collect")
        self.ready_button.setEnabled(False)
        self.ready_button.setVisible(allowed(ctx.actor.role, Permission.DISPENSE))
        self.refresh_button = QPushButton("Refresh")

        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.ready_button)
        buttons.addWidget(self.supply_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        QWidget.setTabOrder(self.table, self.refresh_button)
        QWidget.setTabOrder(self.refresh_button, self.ready_button)
        QWidget.setTabOrder(self.ready_button, self.supply_button)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemActivated.connect(lambda _item: self.supply_selected())
        self.supply_button.clicked.connect(self.supply_selected)
        self.ready_button.clicked.connect(self.mark_selected_ready)
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # owings change at the counter and on other workstations' sync: fresh whenever looked at
        super().showEvent(event)

    def refresh(self, message: str | None = None) -> None:
        try:
            self.owings = open_owings_of_organisation(self.ctx)
        except RxDeskError as exc:
            self.owings = []
            self.message.setText(str(exc))
        else:
            count = len(self.owings)
            self.message.setText(
                message
                or (
                    f"{count} owing{'s' if count != 1 else ''} open: choose one to supply it or mark it ready."
                    if count
                    else "Nothing is owed: every prescription dispensed here has been supplied in full."
                )
            )
        self.table.setRowCount(len(self.owings))
        for row, open_owing in enumerate(self.owings):
            owing = open_owing.owing
            cells = (
                open_owing.patient_name,
                owing.product_name,
                f"{qty(owing.quantity)} {owing.unit}",
                uk_date(owing.expires_on),
                uk_date(open_owing.owed_since.astimezone(UK).date()),
                STATUS_TEXT.get(owing.status, owing.status),
            )
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, open_owing.prescription_id)
                self.table.setItem(row, column, cell)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected()
        self.supply_button.setEnabled(chosen is not None)
        self.ready_button.setEnabled(chosen is not None and chosen.owing.status == OwingStatus.OPEN.value)

    def selected(self) -> OpenOwing | None:
        rows = self.table.selectionModel().selectedRows()
        return self.owings[rows[0].row()] if rows and rows[0].row() < len(self.owings) else None

    def supply_selected(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.supply_requested.emit(chosen.prescription_id)

    def mark_selected_ready(self) -> None:
        chosen = self.selected()
        if chosen is None:
            return
        try:
            info = mark_owing_ready(self.ctx, chosen.owing.owing_id)
        except RxDeskError as exc:
            self.refresh(str(exc))
            return
        self.refresh(
            f"{info.product_name} for {chosen.patient_name} is ready for collection: "
            "the patient is told if they agreed to be."
        )
