"""The patients workspace: find a patient (name, NHS number, date of birth or postcode), register or edit one,
and see their allergies and medication history. Searching is a few ms (indexed): it runs as you type."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.errors import RxDeskError
from core.patients.allergies import list_allergies
from core.patients.history import medication_history
from core.patients.records import get_patient
from core.patients.search import search_patients
from core.storage.models import Patient
from core.users.roles import Permission, allowed
from core.validation.nhs_number import format_nhs_number
from desktop.patient_form import PatientForm

SEARCH_DELAY_MS = 120


def patient_line(p: Patient) -> str:
    nhs = f" · NHS {format_nhs_number(p.nhs_number)}" if p.nhs_number else ""
    return f"{p.family_name.upper()}, {p.given_name} · born {p.date_of_birth:%d/%m/%Y}{nhs} · {p.postcode or ''}"


class PatientsPanel(QWidget):
    patient_chosen = Signal(object)  # the Patient shown, for the workspaces that act on one

    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("patientsPanel")
        self.search_box = QLineEdit()
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Find a patient: name, NHS number, date of birth or postcode…")
        self.search_box.setAccessibleName("Find a patient")
        self.search_box.setClearButtonEnabled(True)
        self.register_button = QPushButton("Register a patient")
        self.edit_button = QPushButton("Edit")
        self.edit_button.setEnabled(False)
        may_edit = allowed(ctx.actor.role, Permission.EDIT_PATIENTS)
        self.register_button.setVisible(may_edit)
        self.edit_button.setVisible(may_edit)
        self.results = QListWidget()
        self.results.setAccessibleName("Patients found")
        self.detail = QTextBrowser()
        self.detail.setAccessibleName("Patient record")

        top = QHBoxLayout()
        top.addWidget(self.search_box, 1)
        top.addWidget(self.register_button)
        top.addWidget(self.edit_button)
        splitter = QSplitter()
        splitter.addWidget(self.results)
        splitter.addWidget(self.detail)
        splitter.setSizes([480, 720])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.search_now)
        self.search_box.textChanged.connect(self._timer.start)
        self.results.currentItemChanged.connect(self._chosen)
        self.register_button.clicked.connect(self.register)
        self.edit_button.clicked.connect(self.edit)
        self.current: Patient | None = None

    def search_now(self) -> None:
        self._timer.stop()
        text = self.search_box.text()
        self.results.clear()
        try:
            patients = search_patients(self.ctx, text) if text.strip() else []
        except RxDeskError as exc:
            self.detail.setPlainText(str(exc))
            return
        for patient in patients:
            item = QListWidgetItem(patient_line(patient))
            item.setData(Qt.ItemDataRole.UserRole, patient.id)
            self.results.addItem(item)
        if not patients and text.strip():
            self.detail.setHtml(f"<p>No patient matches <b>{escape(text)}</b>.</p>")

    def _chosen(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        self.show_patient(str(item.data(Qt.ItemDataRole.UserRole)))

    def show_patient(self, patient_id: str) -> None:
        with self.ctx.database.reader() as session:
            patient = get_patient(session, patient_id)
        self.current = patient
        self.edit_button.setEnabled(True)
        self.detail.setHtml(self._record_html(patient))
        self.patient_chosen.emit(patient)

    def _record_html(self, p: Patient) -> str:
        parts = [f"<h2>{escape(p.given_name)} {escape(p.family_name.upper())}</h2>", f"<p>{escape(patient_line(p))}"]
        if p.address:
            parts.append("<br>" + escape(p.address).replace("\n", "<br>"))
        parts.append("</p><h3>Allergies and intolerances</h3>")
        allergies = list_allergies(self.ctx, p.id) if allowed(self.ctx.actor.role, Permission.VIEW_PATIENTS) else []
        if allergies:
            parts.append("<ul>")
            for a in allergies:
                parts.append(
                    f"<li><b>{escape(a.substance_name)}</b>: {escape(a.kind)}, {escape(a.severity)} "
                    f"({escape(a.reaction)})</li>"
                )
            parts.append("</ul>")
        else:
            parts.append("<p>None recorded.</p>")
        if allowed(self.ctx.actor.role, Permission.VIEW_PRESCRIPTIONS):
            parts.append("<h3>Medication history</h3>")
            history = medication_history(self.ctx, p.id)
            if not history:
                parts.append("<p>No prescriptions or dispensings yet.</p>")
            for entry in history:
                lines = "; ".join(f"{escape(line.product_name)} × {line.quantity}" for line in entry.lines)
                status = f" ({escape(entry.status)})" if entry.status else ""
                parts.append(
                    f"<p><b>{entry.at:%d/%m/%Y}</b> {escape(entry.kind)}{status} by {escape(entry.by)}: {lines}</p>"
                )
        return "".join(parts)

    def register(self) -> None:
        form = PatientForm(self.ctx, parent=self)
        form.saved.connect(self._saved)
        form.open()

    def edit(self) -> None:
        if self.current is None:
            return
        form = PatientForm(self.ctx, self.current, parent=self)
        form.saved.connect(self._saved)
        form.open()

    def _saved(self, patient: Patient) -> None:
        self.search_box.setText(patient.nhs_number or f"{patient.family_name} {patient.given_name}")
        self.search_now()
        self.show_patient(patient.id)
