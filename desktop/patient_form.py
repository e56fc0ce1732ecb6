"""Register or edit a patient: every field checked by the core's rules, each problem shown beside its field.

The core decides (NHS number check digit, postcode, duplicates, what telling the patient needs); this form only shows
what it says. A possible duplicate (same name and date of birth) is asked about; the same NHS number is refused
outright. How the patient wants to be told about their prescriptions is chosen from a list, and their consent is a
checkbox that says what they agree to ("The patient agrees to be told by text message").
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.errors import RxDeskError
from core.patients.csv_format import parse_date
from core.patients.notifications import NotifyBy, consent_sentence
from core.patients.records import FIELD_LABELS, FieldError, PatientDetails, PossibleDuplicate, create_patient
from core.patients.records import update_patient as update_patient_record
from core.storage.models import Patient
from desktop.operation import announce
from desktop.topics import PATIENTS_CHANGED

SEXES = ("", "female", "male", "other", "unknown")
WAYS = tuple(NotifyBy)  # the order of the "Tell them by" list
Input = QLineEdit | QPlainTextEdit | QComboBox | QCheckBox


def ask_yes_no(parent: QWidget, text: str) -> bool:
    answer = QMessageBox.question(parent, "RxDesk", text)
    return answer == QMessageBox.StandardButton.Yes


class PatientForm(QDialog):
    saved = Signal(object)  # the Patient row

    def __init__(
        self,
        ctx: ServiceContext,
        patient: Patient | None = None,
        parent: QWidget | None = None,
        ask: Callable[[QWidget, str], bool] = ask_yes_no,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient = patient
        self.ask = ask
        self.setObjectName("patientForm")
        self.setWindowTitle("Edit patient" if patient else "Register a patient")
        self.setMinimumWidth(480)
        self.inputs: dict[str, Input] = {}
        self.field_errors: dict[str, QLabel] = {}
        form = QFormLayout()
        for name, label in FIELD_LABELS.items():
            widget = self._input(name)
            widget.setAccessibleName(label)
            self.inputs[name] = widget
            error = QLabel()
            error.setObjectName("fieldError")
            error.setWordWrap(True)
            error.hide()
            self.field_errors[name] = error
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(widget)
            column.addWidget(error)
            form.addRow(label + (" *" if name in ("given_name", "family_name", "date_of_birth") else ""), column)
        self.error = QLabel()
        self.error.setObjectName("formError")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.notify_by = self.inputs["notify_by"]
        self.consent = self.inputs["consent"]
        assert isinstance(self.notify_by, QComboBox) and isinstance(self.consent, QCheckBox)
        self.notify_by.currentIndexChanged.connect(self._way_changed)
        if patient is not None:
            self._fill(patient)
        self._way_changed()

    def way(self) -> NotifyBy:
        assert isinstance(self.notify_by, QComboBox)
        return WAYS[max(self.notify_by.currentIndex(), 0)]

    def _way_changed(self) -> None:
        """The consent says what the patient agrees to; with neither way there is nothing to agree to."""
        assert isinstance(self.consent, QCheckBox)
        way = self.way()
        self.consent.setText(consent_sentence(way) + ("." if way is not NotifyBy.NONE else ""))
        self.consent.setEnabled(way is not NotifyBy.NONE)
        if way is NotifyBy.NONE:
            self.consent.setChecked(False)

    def _input(self, name: str) -> Input:
        if name == "address":
            box = QPlainTextEdit()
            box.setTabChangesFocus(True)
            box.setFixedHeight(64)
            return box
        if name == "sex":
            combo = QComboBox()
            combo.addItems([s.capitalize() or "Not recorded" for s in SEXES])
            return combo
        if name == "notify_by":
            ways = QComboBox()
            ways.addItems([way.label for way in WAYS])
            ways.setToolTip("How the patient wants to hear that a prescription is signed, dispensed or ready")
            return ways
        if name == "consent":
            return QCheckBox()
        line = QLineEdit()
        if name == "date_of_birth":
            line.setPlaceholderText("dd/mm/yyyy")
        if name == "nhs_number":
            line.setPlaceholderText("10 digits, e.g. 943 476 5919")
        return line

    def _fill(self, patient: Patient) -> None:
        details = PatientDetails.of(patient)
        for name, widget in self.inputs.items():
            value = getattr(details, name)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif name == "notify_by" and isinstance(widget, QComboBox):
                widget.setCurrentIndex(WAYS.index(NotifyBy(value or NotifyBy.NONE)))
            elif isinstance(widget, QComboBox):
                widget.setCurrentIndex(SEXES.index(value) if value in SEXES else 0)
            elif name == "date_of_birth":
                widget.setText(f"{value:%d/%m/%Y}")
            else:
                widget.setPlainText(value or "") if isinstance(widget, QPlainTextEdit) else widget.setText(value or "")

    def _value(self, name: str) -> str:
        widget = self.inputs[name]
        if name == "notify_by":
            return self.way().value
        if isinstance(widget, QCheckBox):
            return "yes" if widget.isChecked() else ""
        if isinstance(widget, QComboBox):
            return SEXES[widget.currentIndex()]
        return widget.toPlainText() if isinstance(widget, QPlainTextEdit) else widget.text()

    def details(self) -> PatientDetails:
        """What was typed, as the core's input. Raises FieldError for a date that is not one."""
        born = self._value("date_of_birth").strip()
        if not born:
            raise FieldError("date_of_birth", "this is required.")
        values = {
            name: self._value(name).strip() or None for name in FIELD_LABELS if name not in ("date_of_birth", "consent")
        }
        consent = isinstance(self.consent, QCheckBox) and self.consent.isChecked()
        return PatientDetails(date_of_birth=parse_date(born), consent=consent, **values)  # type: ignore[arg-type]

    def save(self, confirm_possible_duplicate: bool = False) -> None:
        self._clear_errors()
        try:
            details = self.details()
            if self.patient is None:
                patient = create_patient(self.ctx, details, confirm_possible_duplicate=confirm_possible_duplicate)
            else:
                patient = update_patient_record(
                    self.ctx, self.patient.id, details, confirm_possible_duplicate=confirm_possible_duplicate
                )
        except FieldError as exc:
            self._show_field_error(exc.field, str(exc))
            return
        except PossibleDuplicate as exc:
            if self.ask(self, f"{exc}\n\nSave this patient anyway?"):
                self.save(confirm_possible_duplicate=True)
            return
        except RxDeskError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.patient = patient
        announce(PATIENTS_CHANGED)
        self.saved.emit(patient)
        self.accept()

    def _clear_errors(self) -> None:
        self.error.hide()
        for label in self.field_errors.values():
            label.hide()

    def _show_field_error(self, field: str, message: str) -> None:
        label = self.field_errors.get(field)
        if label is None:
            self.error.setText(message)
            self.error.show()
            return
        # Beside its field the message needs no "NHS number:" in front: the field says it.
        label.setText(message.removeprefix(f"{FIELD_LABELS.get(field, field)}: "))
        label.show()
        self.adjustSize()  # room for the message, however many lines it takes
        self.inputs[field].setFocus()
