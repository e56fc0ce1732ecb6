"""The prescriber's workspace: choose the patient, find medicines as you type, write each item with dose and
quantity helpers, see the core's checks as the prescription is built, give reasons for warnings, sign with the PIN,
print.

Every change is a core service call (a draft is created with the first item and stays on this workstation until
signed); the checks and the signing quote are read again after each change, off the UI thread, and shown inline.
Medicine search runs off the UI thread too (TypeAheadSearch): typing never waits for the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any

from PySide6.QtCore import QDate, QEvent, QObject, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.dmd.search import SearchHit
from core.errors import RxDeskError
from core.patients.allergies import list_allergies
from core.patients.records import get_patient
from core.patients.search import search_patients
from core.patients.summary import patient_summary
from core.prescriptions.checks import check_prescription
from core.prescriptions.dosing import pack_sizes, unit_for
from core.prescriptions.drafting import add_item, create_prescription, my_drafts, remove_item, set_draft_options
from core.prescriptions.lifecycle import cancel_prescription
from core.prescriptions.products import product_snapshot
from core.prescriptions.queries import get_prescription
from core.prescriptions.signing import SignedPrescription, sign_prescription
from core.printing.prescription import print_prescription
from core.rules.model import Outcome, RuleResult, RulesNotSatisfied
from core.storage.models import Patient, Prescription
from core.tokens.balance import SigningQuote, signing_quote
from desktop.findings_view import FindingsView
from desktop.icons import icon
from desktop.item_editor import ItemEditor, ItemRequest, schedule_badge
from desktop.messages import error_text
from desktop.operation import Operation, announce
from desktop.pin_dialog import ask_pin
from desktop.printing import DocumentKind, PrintPreviewDialog, preview_and_print
from desktop.topics import PRESCRIPTIONS_CHANGED, TOKENS_CHANGED
from desktop.type_ahead import TypeAheadSearch

PATIENT_SEARCH_DELAY_MS = 120
MEDICINE_RESULTS = 30
ITEM_COLUMNS = ("Medicine", "CD", "Dose", "Quantity", "Days", "")
DISCARD_REASON = "Draft discarded by the prescriber"
MEDICINE_HINT = "Generic (VMP) and branded (AMP) medicines. Ctrl+M: back here; Ctrl+Enter: sign."


class PrescribePanel(QWidget):
    signed = Signal(object)  # SignedPrescription

    def __init__(
        self,
        ctx: ServiceContext,
        catalogue: Callable[[], Catalogue | None],
        parent: QWidget | None = None,
        pin: Callable[[QWidget, str], str | None] = ask_pin,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.catalogue = catalogue  # a callable: the catalogue may still be building when the panel opens
        self.ask_pin = pin
        self.preview: PrintPreviewDialog | None = None
        self.setObjectName("prescribePanel")
        self.patient: Patient | None = None
        self.rx: Prescription | None = None  # the draft being written (None until its first item)
        self.signed_result: SignedPrescription | None = None
        self.quote: SigningQuote | None = None
        self._checks_pool = QThreadPool(self)
        self._checks_pool.setMaxThreadCount(1)
        self._check_generation = 0
        self._signing: Operation | None = None

        self._build_patient_bar()
        self._build_medicine_column()
        self._build_prescription_column()
        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.medicine_column)
        splitter.addWidget(self.prescription_column)
        splitter.setSizes([520, 700])
        layout = QVBoxLayout(self)
        layout.addLayout(self.patient_bar)
        layout.addWidget(self.patient_results)
        layout.addWidget(self.patient_card)
        layout.addWidget(splitter, 1)

        self.medicine_search = TypeAheadSearch(self)
        self.medicine_search.answered.connect(self._show_medicines)
        self.medicine_search.failed.connect(lambda _t, error: self.medicine_note.setText(error_text(error)))
        for keys, slot in (
            (QKeySequence("Ctrl+Return"), self.sign),
            (QKeySequence("Ctrl+Enter"), self.sign),
            (QKeySequence("Ctrl+M"), self.focus_medicine_search),
            (QKeySequence("Ctrl+Shift+F"), self.focus_patient_search),
            (QKeySequence("Ctrl+N"), self.new_prescription),
            (QKeySequence("Ctrl+P"), self.print_signed),
        ):
            shortcut = QShortcut(keys, self, slot)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._update_state()

    # -- layout --------------------------------------------------------------------------------------------
    def _build_patient_bar(self) -> None:
        self.patient_box = QLineEdit()
        self.patient_box.setObjectName("searchBox")
        self.patient_box.setPlaceholderText("Patient: name, NHS number, date of birth or postcode…")
        self.patient_box.setAccessibleName("Find the patient")
        self.patient_box.setClearButtonEnabled(True)
        self.patient_results = QListWidget()
        self.patient_results.setAccessibleName("Patients found")
        self.patient_results.setMaximumHeight(160)
        self.patient_results.hide()
        self.patient_card = QLabel()
        self.patient_card.setObjectName("patientCard")
        self.patient_card.setWordWrap(True)
        self.patient_card.setTextFormat(Qt.TextFormat.RichText)
        self.patient_card.hide()
        self.patient_bar = QHBoxLayout()
        self.patient_bar.addWidget(self.patient_box, 1)
        self._patient_timer = QTimer(self)
        self._patient_timer.setSingleShot(True)
        self._patient_timer.setInterval(PATIENT_SEARCH_DELAY_MS)
        self._patient_timer.timeout.connect(self.search_patients_now)
        self.patient_box.textEdited.connect(lambda _t: self._patient_timer.start())
        self.patient_box.returnPressed.connect(self._pick_first_patient)
        self.patient_results.itemActivated.connect(self._patient_item_chosen)
        self.patient_results.itemClicked.connect(self._patient_item_chosen)

    def _build_medicine_column(self) -> None:
        self.medicine_box = QLineEdit()
        self.medicine_box.setObjectName("searchBox")
        self.medicine_box.setPlaceholderText("Add a medicine: type a name or brand…")
        self.medicine_box.setAccessibleName("Find a medicine to prescribe")
        self.medicine_box.setClearButtonEnabled(True)
        self.medicine_note = QLabel(MEDICINE_HINT)
        self.medicine_note.setObjectName("summaryLabel")
        self.medicine_note.setWordWrap(True)
        self.medicine_results = QListWidget()
        self.medicine_results.setAccessibleName("Medicines found")
        self.editor = ItemEditor()
        self.editor.hide()
        self.medicine_column = QWidget()
        layout = QVBoxLayout(self.medicine_column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.medicine_box)
        layout.addWidget(self.medicine_note)
        layout.addWidget(self.medicine_results, 1)
        layout.addWidget(self.editor)
        self.editor_spacer = QWidget()  # keeps the editor at the top while the results are hidden
        layout.addWidget(self.editor_spacer, 1)
        self.editor_spacer.hide()
        self.medicine_box.textChanged.connect(self._medicine_text_changed)
        self.medicine_box.returnPressed.connect(self._pick_first_medicine)
        self.medicine_results.itemActivated.connect(self._medicine_chosen)
        self.medicine_results.itemClicked.connect(self._medicine_chosen)
        self.medicine_box.installEventFilter(self)
        self.editor.add_requested.connect(self.add_requested_item)
        self.editor.cancelled.connect(self._close_editor)

    def _build_prescription_column(self) -> None:
        self.heading = QLabel()
        self.heading.setObjectName("counterTitle")
        self.start_date = QDateEdit()
        self.start_date.setCalendarPopup(True)
        self.start_date.setDisplayFormat("dd/MM/yyyy")
        self.start_date.setAccessibleName("Start date (not before)")
        self.start_date.setToolTip("The prescription may not be dispensed before this date")
        self.repeat = QCheckBox("Repeat")
        self.repeat_issues = QSpinBox()
        self.repeat_issues.setRange(2, 13)
        self.repeat_issues.setValue(6)
        self.repeat_issues.setSuffix(" issues")
        self.repeat_issues.setAccessibleName("Number of issues")
        self.repeat_interval = QSpinBox()
        self.repeat_interval.setRange(7, 91)
        self.repeat_interval.setValue(28)
        self.repeat_interval.setPrefix("every ")
        self.repeat_interval.setSuffix(" days")
        self.repeat_interval.setAccessibleName("Days between issues")
        options = QHBoxLayout()
        options.addWidget(QLabel("Start"))
        options.addWidget(self.start_date)
        options.addSpacing(12)
        options.addWidget(self.repeat)
        options.addWidget(self.repeat_issues)
        options.addWidget(self.repeat_interval)
        options.addStretch(1)

        self.items = QTableWidget(0, len(ITEM_COLUMNS))
        self.items.setObjectName("prescriptionItems")
        self.items.setHorizontalHeaderLabels(ITEM_COLUMNS)
        self.items.horizontalHeader().setStretchLastSection(False)
        self.items.horizontalHeader().setSectionResizeMode(0, self.items.horizontalHeader().ResizeMode.Stretch)
        self.items.verticalHeader().hide()
        self.items.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.items.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.items.setAccessibleName("Items of the prescription")
        self.findings = FindingsView()
        self.cost_label = QLabel()
        self.cost_label.setObjectName("costLabel")
        self.cost_label.setWordWrap(True)
        self.message = QLabel()
        self.message.setObjectName("counterMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        self.discard_button = QPushButton("Discard draft")
        self.new_button = QPushButton("New prescription")
        self.new_button.setToolTip("Start another prescription for this patient (Ctrl+N)")
        self.print_button = QPushButton(icon("print"), "Print…")
        self.print_button.setToolTip("Preview and print the signed prescription (Ctrl+P)")
        self.sign_button = QPushButton("Sign…")
        self.sign_button.setObjectName("primaryButton")
        self.sign_button.setToolTip("Sign with your PIN (Ctrl+Enter)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.discard_button)
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.sign_button)

        self.prescription_column = QWidget()
        layout = QVBoxLayout(self.prescription_column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addLayout(options)
        layout.addWidget(self.items, 1)
        layout.addWidget(self.findings)
        layout.addWidget(self.cost_label)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.start_date.dateChanged.connect(self._options_changed)
        self.repeat.toggled.connect(self._options_changed)
        self.repeat_issues.valueChanged.connect(self._options_changed)
        self.repeat_interval.valueChanged.connect(self._options_changed)
        self.findings.changed.connect(self._update_state)
        self.sign_button.clicked.connect(self.sign)
        self.discard_button.clicked.connect(self.discard)
        self.new_button.clicked.connect(self.new_prescription)
        self.print_button.clicked.connect(self.print_signed)

    # -- the patient -------------------------------------------------------------------------------------------
    def focus_patient_search(self) -> None:
        self.patient_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.patient_box.selectAll()

    def search_patients_now(self) -> None:
        self._patient_timer.stop()
        text = self.patient_box.text()
        self.patient_results.clear()
        if not text.strip():
            self.patient_results.hide()
            return
        try:
            found = search_patients(self.ctx, text, limit=20)
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        for patient in found:
            item = QListWidgetItem(f"{patient_summary(patient)} · {patient.postcode or ''}")
            item.setData(Qt.ItemDataRole.UserRole, patient.id)
            self.patient_results.addItem(item)
        if not found:
            self.patient_results.addItem(QListWidgetItem(f"No patient matches “{text.strip()}”."))
        self.patient_results.show()

    def _pick_first_patient(self) -> None:
        self.search_patients_now()
        first = self.patient_results.item(0)
        if first is not None and first.data(Qt.ItemDataRole.UserRole):
            self._patient_item_chosen(first)

    def _patient_item_chosen(self, item: QListWidgetItem) -> None:
        patient_id = item.data(Qt.ItemDataRole.UserRole)
        if patient_id:
            self.choose_patient(str(patient_id))

    def choose_patient(self, patient_id: str) -> None:
        """Prescribe for this patient: their newest draft of yours is carried on with, if there is one."""
        with self.ctx.database.reader() as session:
            self.patient = get_patient(session, patient_id)
        self.patient_results.hide()
        self.patient_box.clear()
        self._show_patient_card()
        drafts = my_drafts(self.ctx, patient_id)
        self._start(drafts[0] if drafts else None)
        if drafts:
            self.say(f"Carrying on with your draft of {drafts[0].created_at:%d/%m/%Y %H:%M}.", Outcome.ALLOW)
        self.focus_medicine_search()

    def _show_patient_card(self) -> None:
        p = self.patient
        if p is None:
            self.patient_card.hide()
            return
        allergies = list_allergies(self.ctx, p.id)
        if allergies:
            listed = "; ".join(f"{escape(a.substance_name)} ({escape(a.severity)} {escape(a.kind)})" for a in allergies)
            allergy_html = f'<span style="color:#b42318"><b>Allergies:</b> {listed}</span>'
        else:
            allergy_html = "No allergies recorded."
        address = escape(", ".join(x for x in ((p.address or "").replace("\n", ", "), p.postcode or "") if x))
        self.patient_card.setText(f"<b>{escape(patient_summary(p))}</b><br>{address}<br>{allergy_html}")
        self.patient_card.show()

    # -- the draft -----------------------------------------------------------------------------------------------
    def _start(self, draft: Prescription | None) -> None:
        """Show ``draft`` (or a new, empty prescription) for the chosen patient."""
        self.rx = draft
        self.signed_result = None
        self.quote = None
        self.findings.reasons.clear()
        self.findings.problem = ""
        self._close_editor()
        for widget, value in (
            (self.repeat, bool(draft and draft.repeat_total)),
            (self.repeat_issues, (draft.repeat_total if draft and draft.repeat_total else 6)),
            (self.repeat_interval, (draft.repeat_interval_days if draft and draft.repeat_interval_days else 28)),
        ):
            widget.blockSignals(True)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            else:
                widget.setValue(int(value))
            widget.blockSignals(False)
        self.start_date.blockSignals(True)
        start = draft.not_before if draft and draft.not_before else self.ctx.today()
        self.start_date.setMinimumDate(QDate(self.ctx.today()))
        self.start_date.setDate(QDate(start))
        self.start_date.blockSignals(False)
        self.message.hide()
        self._show_items()
        self.refresh_checks()

    def new_prescription(self) -> None:
        if self.patient is not None:
            self._start(None)
            self.focus_medicine_search()

    def _options(self) -> dict[str, Any]:
        start = self.start_date.date().toPython()
        assert isinstance(start, date)
        repeat = self.repeat.isChecked()
        return {
            "not_before": start if start > self.ctx.today() else None,
            "repeat_total": self.repeat_issues.value() if repeat else None,
            "repeat_interval_days": self.repeat_interval.value() if repeat else None,
        }

    def _options_changed(self) -> None:
        self.repeat_issues.setEnabled(self.repeat.isChecked())
        self.repeat_interval.setEnabled(self.repeat.isChecked())
        if self.rx is None or self.signed_result is not None:
            return
        try:
            self.rx = set_draft_options(self.ctx, self.rx.id, **self._options())
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        self.refresh_checks()

    def _reload(self) -> None:
        if self.rx is not None:
            with self.ctx.database.reader() as session:
                self.rx = get_prescription(session, self.rx.id)

    def _show_items(self) -> None:
        items = list(self.rx.items) if self.rx is not None else []
        self.items.setRowCount(len(items))
        for row, item in enumerate(items):
            quantity = item.quantity.normalize()
            schedule = f"Sch {item.cd_schedule}" if item.cd_schedule else ""
            cells = (item.product_name, schedule, item.dose, f"{format(quantity, 'f')} {unit_for(quantity, item.unit)}",
                     str(item.days_supply or ""))  # fmt: skip
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(f"{text}\nDirections: {item.directions}" if column == 0 else
                                schedule_badge(item.cd_schedule) if column == 1 else text)  # fmt: skip
                self.items.setItem(row, column, cell)
            remove = QPushButton("Remove")
            remove.setAccessibleName(f"Remove {item.product_name}")
            remove.setEnabled(self.signed_result is None)
            remove.clicked.connect(lambda _checked=False, item_id=item.id: self.remove(item_id))
            self.items.setCellWidget(row, len(ITEM_COLUMNS) - 1, remove)
        self.items.resizeColumnsToContents()
        self.items.horizontalHeader().setSectionResizeMode(0, self.items.horizontalHeader().ResizeMode.Stretch)
        self._update_state()

    # -- medicines -----------------------------------------------------------------------------------------------
    def focus_medicine_search(self) -> None:
        self.medicine_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.medicine_box.selectAll()

    def _medicine_text_changed(self, text: str) -> None:
        catalogue = self.catalogue()
        if catalogue is None and text.strip():
            self.medicine_note.setText("The medicines catalogue is still being prepared: try again in a moment.")
        elif catalogue is not None and text.strip():
            self.medicine_search.request(
                text, lambda: catalogue.search(text, limit=MEDICINE_RESULTS, kinds=("vmp", "amp"))
            )
        else:
            self.medicine_search.cancel()
            self.medicine_results.clear()
            self.medicine_note.setText(MEDICINE_HINT)

    def _show_medicines(self, text: str, hits: list[SearchHit]) -> None:
        self.medicine_results.clear()
        for hit in hits:
            item = QListWidgetItem(f"{hit.type.upper()}  {hit.name}")
            item.setData(Qt.ItemDataRole.UserRole, str(hit.id))
            item.setToolTip("Generic (VMP)" if hit.type == "vmp" else "Brand (AMP)")
            self.medicine_results.addItem(item)
        self.medicine_note.setText(
            f"No medicine matches “{text.strip()}”." if not hits else f"{len(hits)} medicines: ↓ to choose, Enter"
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.medicine_box
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Down
        ):
            if self.medicine_results.count():
                self.medicine_results.setFocus()
                self.medicine_results.setCurrentRow(0)
            return True
        return super().eventFilter(watched, event)

    def _pick_first_medicine(self) -> None:
        first = self.medicine_results.item(0)
        if first is not None:
            self._medicine_chosen(first)

    def _medicine_chosen(self, item: QListWidgetItem) -> None:
        product_id = item.data(Qt.ItemDataRole.UserRole)
        if product_id:
            self.choose_medicine(str(product_id))

    def choose_medicine(self, product_id: str) -> None:
        catalogue = self.catalogue()
        if catalogue is None:
            self.say("The medicines catalogue is still being prepared: try again in a moment.", Outcome.WARN)
            return
        if self.patient is None:
            self.say("Choose the patient first.", Outcome.WARN)
            self.focus_patient_search()
            return
        if self.signed_result is not None:
            self.new_prescription()
        try:
            product = product_snapshot(catalogue, product_id)
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        if product.unusable:
            self.say(f"{product.name} is {product.unusable} in this catalogue: it cannot be prescribed.", Outcome.BLOCK)
            return
        self.medicine_results.hide()
        self.medicine_note.hide()
        self.editor.edit(product_id, product, pack_sizes(catalogue, product.vmp_id))
        self.editor.show()
        self.editor_spacer.show()

    def _close_editor(self) -> None:
        self.editor.hide()
        self.editor_spacer.hide()
        self.medicine_results.show()
        self.medicine_note.show()

    def add_requested_item(self, request: ItemRequest) -> None:
        catalogue = self.catalogue()
        if catalogue is None or self.patient is None:
            return
        try:
            if self.rx is None:
                self.rx = create_prescription(self.ctx, self.patient.id, **self._options())
            add_item(
                self.ctx,
                catalogue,
                self.rx.id,
                request.product_id,
                dose=request.dose,
                directions=request.directions,
                quantity=request.quantity,
                days_supply=request.days_supply,
                quantity_in_words_text=request.quantity_in_words,
            )
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        self.message.hide()
        self._reload()
        self._close_editor()
        self.medicine_box.clear()
        self._show_items()
        self.refresh_checks()
        self.focus_medicine_search()

    def remove(self, item_id: str) -> None:
        try:
            remove_item(self.ctx, item_id)
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        self._reload()
        self._show_items()
        self.refresh_checks()

    def discard(self) -> None:
        if self.rx is None or self.signed_result is not None:
            return
        try:
            cancel_prescription(self.ctx, self.rx.id, DISCARD_REASON)
            announce(PRESCRIPTIONS_CHANGED)
        except RxDeskError as exc:
            self.say(str(exc), Outcome.BLOCK)
            return
        self._start(None)
        self.say("Draft discarded.", Outcome.ALLOW)

    # -- checks ----------------------------------------------------------------------------------------------------
    def refresh_checks(self) -> None:
        """Read the core's findings and the signing quote again, off the UI thread; only the latest is shown."""
        self._check_generation += 1
        generation = self._check_generation
        catalogue = self.catalogue()
        if self.rx is None or not self.rx.items or catalogue is None or self.signed_result is not None:
            self.quote = None
            self.findings.show_results([], checked=self.rx is not None and bool(self.rx.items))
            self._update_state()
            return
        ctx, rx_id = self.ctx, self.rx.id

        def check(_report: object) -> tuple[list[RuleResult], SigningQuote]:
            return check_prescription(ctx, catalogue, rx_id), signing_quote(ctx, rx_id)

        operation = Operation(check)
        operation.succeeded.connect(lambda value: self._checked(generation, value))
        operation.failed.connect(lambda error: generation == self._check_generation and self.say(
            f"The prescription could not be checked: {error_text(error)}", Outcome.BLOCK))  # fmt: skip
        operation.start(self._checks_pool)

    def _checked(self, generation: int, value: tuple[list[RuleResult], SigningQuote]) -> None:
        if generation != self._check_generation:
            return
        results, self.quote = value
        self.findings.show_results(results)
        self._update_state()

    def wait_for_checks(self) -> None:
        self._checks_pool.waitForDone()

    def _update_state(self) -> None:
        has_patient = self.patient is not None
        draft = self.rx is not None and self.signed_result is None
        has_items = draft and self.rx is not None and bool(self.rx.items)
        self.medicine_box.setEnabled(has_patient)
        self.sign_button.setEnabled(bool(has_items) and self._signing is None)
        self.discard_button.setEnabled(draft)
        self.new_button.setEnabled(has_patient and (self.signed_result is not None or bool(has_items)))
        self.print_button.setVisible(self.signed_result is not None)
        for widget in (self.start_date, self.repeat):
            widget.setEnabled(has_patient and self.signed_result is None)
        self.repeat_issues.setEnabled(self.repeat.isChecked() and self.signed_result is None)
        self.repeat_interval.setEnabled(self.repeat.isChecked() and self.signed_result is None)
        if not has_patient:
            self.heading.setText("Choose the patient to prescribe for.")
        elif self.signed_result is not None:
            self.heading.setText(f"Signed prescription {self.signed_result.prescription_ids[0]}")
        else:
            self.heading.setText("New prescription" if self.rx is None else f"Draft {self.rx.id[-8:]}")
        self.cost_label.setText(self._cost_text())

    def _cost_text(self) -> str:
        quote = self.quote
        if self.signed_result is not None:
            return f"{self.signed_result.token_cost} tokens debited."
        if quote is None:
            return ""
        if quote.balance is None:
            return quote.refusal or ""
        text = f"Signing costs {quote.cost} tokens · {quote.balance.account_name}: {quote.balance.available} available"
        if quote.balance.overdraft_limit:
            text += f" (overdraft limit {quote.balance.overdraft_limit})"
        return f"{text}. {quote.refusal}" if quote.refusal else text

    # -- signing ---------------------------------------------------------------------------------------------------
    def sign(self) -> None:
        catalogue = self.catalogue()
        if self.rx is None or not self.rx.items or catalogue is None or self._signing is not None:
            return
        if self.signed_result is not None:
            return
        self.wait_for_checks()  # sign against the latest findings
        if self.findings.blocked:
            self.say("The prescription cannot be signed: change or remove what is marked ⛔.", Outcome.BLOCK)
            return
        if self.findings.unanswered():
            self.say("Give a reason for each warning marked ⚠ before signing: it is kept and audited.", Outcome.WARN)
            return
        if self.quote is not None and self.quote.refusal:
            self.say(self.quote.refusal, Outcome.BLOCK)
            return
        count = len(self.rx.items)
        issues = f", {self.rx.repeat_total} issues" if self.rx.repeat_total else ""
        cost = f" for {self.quote.cost} tokens" if self.quote else ""
        pin = self.ask_pin(self, f"Sign this prescription ({count} item{'s' if count != 1 else ''}{issues}){cost}?"
                           "\n\nEnter your signing PIN.")  # fmt: skip
        if not pin:
            return
        ctx, rx_id, reasons = self.ctx, self.rx.id, self.findings.reasons_for_signing()
        operation = Operation(
            lambda _report: sign_prescription(ctx, catalogue, rx_id, pin, reasons),
            changes={TOKENS_CHANGED, PRESCRIPTIONS_CHANGED},
        )
        operation.succeeded.connect(self._signed)
        operation.failed.connect(self._signing_failed)
        operation.finished.connect(self._signing_finished)
        self._signing = operation.start()
        self._update_state()

    def _signed(self, result: SignedPrescription) -> None:
        self.signed_result = result
        self._reload()
        self._show_items()
        self.findings.show_results([])
        assert self.rx is not None
        valid = f", valid until {self.rx.valid_until:%d/%m/%Y}" if self.rx.valid_until else ""
        issues = f" ({len(result.prescription_ids)} repeat issues)" if len(result.prescription_ids) > 1 else ""
        self.say(f"Signed{issues}{valid}. {result.token_cost} tokens debited.", Outcome.ALLOW)
        self.signed.emit(result)

    def _signing_failed(self, error: BaseException) -> None:
        if isinstance(error, RulesNotSatisfied):
            self.findings.show_results(error.results)
        self.say(error_text(error), Outcome.BLOCK)
        self.refresh_checks()

    def _signing_finished(self) -> None:
        self._signing = None
        self._update_state()

    def print_signed(self) -> Operation | None:
        """Render the signed prescription (each form, when signing split it) off the UI thread, then preview it."""
        if self.signed_result is None:
            return None
        ctx, ids = self.ctx, list(self.signed_result.prescription_ids)
        operation = Operation(lambda _report: [print_prescription(ctx, rx_id) for rx_id in ids])
        operation.succeeded.connect(self._show_preview)
        operation.failed.connect(lambda error: self.say(error_text(error), Outcome.BLOCK))
        return operation.start()

    def _show_preview(self, pdfs: list[bytes]) -> None:
        self.preview = preview_and_print(self, DocumentKind.PRESCRIPTION, "Prescription", pdfs)

    def say(self, text: str, outcome: Outcome) -> None:
        self.message.setText(text)
        self.message.setProperty("outcome", outcome.value)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.show()
