"""Admin → Organisation: the name, address, postcode and phone printed on labels, receipts and prescriptions."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.errors import RxDeskError
from core.storage.models import Organisation
from core.users.organisations import OrganisationDetails, list_organisations, update_organisation
from desktop.message_line import MessageLine
from desktop.operation import announce
from desktop.topics import RECORDS_CHANGED


class OrganisationPanel(QWidget):
    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("adminOrganisation")
        self.organisations: list[Organisation] = []

        self.chooser = QComboBox()
        self.chooser.setAccessibleName("Organisation to edit")
        self.name = QLineEdit()
        self.name.setAccessibleName("Organisation name")
        self.address = QPlainTextEdit()
        self.address.setAccessibleName("Address, one line per line")
        self.address.setTabChangesFocus(True)
        self.address.setMaximumHeight(110)
        self.postcode = QLineEdit()
        self.postcode.setAccessibleName("Postcode")
        self.postcode.setMaximumWidth(140)
        self.phone = QLineEdit()
        self.phone.setAccessibleName("Telephone")
        self.phone.setMaximumWidth(220)
        self.message = MessageLine()
        self.save_button = QPushButton("Save details")
        self.save_button.setShortcut("Ctrl+S")
        self.save_button.setToolTip("Printed on every label, receipt and prescription from now on (Ctrl+S)")
        self.undo_button = QPushButton("Undo changes")

        form = QFormLayout()
        form.addRow("Organisation", self.chooser)
        form.addRow("Name", self.name)
        form.addRow("Address", self.address)
        form.addRow("Postcode", self.postcode)
        form.addRow("Telephone", self.phone)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        note = QLabel("Documents printed before a change keep the details they were printed with.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.chooser.currentIndexChanged.connect(self.show_selected)
        self.save_button.clicked.connect(self.save)
        self.undo_button.clicked.connect(self.show_selected)
        self.refresh()

    def refresh(self, select_id: str | None = None) -> None:
        try:
            self.organisations = list_organisations(self.ctx)
        except RxDeskError as exc:
            self.say(str(exc), failed=True)
            return
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for org in self.organisations:
            self.chooser.addItem(f"{org.name} ({org.kind})", org.id)
        ids = [org.id for org in self.organisations]
        if select_id in ids:
            self.chooser.setCurrentIndex(ids.index(select_id))
        self.chooser.blockSignals(False)
        self.show_selected()

    def selected(self) -> Organisation | None:
        index = self.chooser.currentIndex()
        return self.organisations[index] if 0 <= index < len(self.organisations) else None

    def show_selected(self) -> None:
        org = self.selected()
        for field in (self.name, self.address, self.postcode, self.phone, self.save_button, self.undo_button):
            field.setEnabled(org is not None)
        if org is None:
            return
        self.name.setText(org.name)
        self.address.setPlainText(org.address)
        self.postcode.setText(org.postcode)
        self.phone.setText(org.phone or "")

    def save(self) -> None:
        org = self.selected()
        if org is None:
            return
        details = OrganisationDetails(
            self.name.text(), self.address.toPlainText(), self.postcode.text(), self.phone.text()
        )
        try:
            update_organisation(self.ctx, org.id, details)
        except RxDeskError as exc:
            self.say(f"Not saved: {exc}", failed=True)  # what was typed stays in the form to be put right
            return
        announce(RECORDS_CHANGED)
        self.refresh(select_id=org.id)
        self.say("Saved. Labels, receipts and prescriptions show the new details from now on.")

    def say(self, text: str, *, failed: bool = False) -> None:
        self.message.say(text, failed=failed)
