"""The prescriber's workspace (pytest-qt, offscreen), driven as a prescriber would, through the core, against a real
app database and the demo catalogue: find the patient, type a medicine, add it with the helpers' dose and
quantity, see an allergy warning, give a reason, sign with the PIN; and the refusals on the way."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import select

from core.dmd.catalogue import Catalogue
from core.patients.allergies import record_allergy
from core.prescriptions.queries import get_prescription
from core.rules.model import Outcome, RuleResult
from core.storage.models import Patient, Prescription, RuleOverride
from core.tokens.balance import prescriber_balance
from desktop.prescribe_panel import PrescribePanel
from tests.clinic import PRESCRIBER_PIN, Clinic
from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule
from tests.test_counter_workspace import save_preview

REASON = "Tolerated this before; patient agrees after discussion"


def panel_for(
    qtbot: QtBot,
    clinic: Clinic,
    catalogue: Catalogue,
    *,
    pin: str | None = PRESCRIBER_PIN,
    reasons: list[str] | None = None,
) -> PrescribePanel:
    answers = list(reasons or [])
    panel = PrescribePanel(clinic.prescriber, lambda: catalogue, pin=lambda _w, _t: pin)
    panel.findings.ask = lambda _w, _r: answers.pop(0) if answers else None
    qtbot.addWidget(panel)
    panel.resize(1280, 800)
    panel.show()
    return panel


def choose_patient(qtbot: QtBot, panel: PrescribePanel, patient: Patient) -> None:
    qtbot.keyClicks(panel.patient_box, patient.nhs_number or "")
    panel.search_patients_now()
    assert panel.patient_results.count() == 1
    panel._patient_item_chosen(panel.patient_results.item(0))
    assert panel.patient is not None and panel.patient.id == patient.id


def type_and_choose_medicine(qtbot: QtBot, panel: PrescribePanel, catalogue: Catalogue, vmp_id: str) -> None:
    """Type the first word of the product's name, wait for the search answered off the UI thread, choose it."""
    name = catalogue.conn.execute("SELECT nm FROM vmp WHERE vpid = ?", (int(vmp_id),)).fetchone()[0]
    qtbot.keyClicks(panel.medicine_box, name)
    qtbot.waitUntil(lambda: panel.medicine_results.count() > 0, timeout=3000)
    ids = [panel.medicine_results.item(i).data(0x0100) for i in range(panel.medicine_results.count())]
    assert vmp_id in ids, f"{name} not found by typing its name"
    panel._medicine_chosen(panel.medicine_results.item(ids.index(vmp_id)))
    assert not panel.editor.isHidden()


def findings_settled(qtbot: QtBot, panel: PrescribePanel) -> list[RuleResult]:
    panel.wait_for_checks()
    qtbot.waitUntil(lambda: panel.quote is not None, timeout=3000)
    return panel.findings.results


def test_allergy_warning_overridden_with_a_reason_then_signed_and_printed(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    fund_clinic(clinic, tokens=100)
    patient = add_patient(clinic)
    vmp = vmp_with_schedule(demo_catalogue, None)
    [isid] = demo_catalogue.conn.execute("SELECT isid FROM vpi WHERE vpid = ? LIMIT 1", (int(vmp),)).fetchone()
    record_allergy(clinic.prescriber, patient.id, demo_catalogue, isid, "intolerance", "nausea", "mild")
    panel = panel_for(qtbot, clinic, demo_catalogue, reasons=[REASON])
    choose_patient(qtbot, panel, patient)
    assert "Allergies:" in panel.patient_card.text()
    type_and_choose_medicine(qtbot, panel, demo_catalogue, vmp)
    # The helpers filled dose, directions and quantity: 1 once a day for 28 days.
    assert panel.editor.dose.text().startswith("1 ") and panel.editor.quantity.text() == "28"
    panel.editor.add_button.click()
    assert panel.items.rowCount() == 1 and panel.rx is not None
    [warning] = [r for r in findings_settled(qtbot, panel) if r.rule == "allergy"]
    assert warning.outcome == "warn" and "intolerance" in warning.message
    assert panel.quote is not None and panel.quote.cost == 10 and "Signing costs 10 tokens" in panel.cost_label.text()

    panel.sign_button.click()  # refused: the warning has no reason yet
    assert panel.message.property("outcome") == "warn" and "reason" in panel.message.text()
    with clinic.database.reader() as session:
        assert get_prescription(session, panel.rx.id).status == "draft"

    panel.findings.ask_reason(warning)
    assert panel.findings.reasons == {warning.key: REASON}
    panel.sign_button.click()
    qtbot.waitUntil(lambda: panel.signed_result is not None, timeout=5000)
    assert "Signed" in panel.message.text() and "10 tokens debited" in panel.message.text()
    with clinic.database.reader() as session:
        rx = get_prescription(session, panel.rx.id)
        assert rx.status == "signed"
        [override] = session.execute(select(RuleOverride).where(RuleOverride.prescription_id == rx.id)).scalars()
        assert override.rule == "allergy" and override.reason == REASON
    balance = prescriber_balance(clinic.prescriber)
    assert balance is not None and balance.available == 90

    assert not panel.print_button.isHidden()
    panel.print_button.click()
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=10_000)
    assert panel.preview is not None and panel.preview.kind == "prescription"
    printed = save_preview(qtbot, panel.preview, tmp_path / "prescription.pdf")
    assert "Alice JONES" in printed and "Riverside Surgery" in printed
    assert panel.items.item(0, 0).text().split(" ")[0] in printed  # the medicine


def test_a_short_reason_is_not_taken(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    panel = panel_for(qtbot, clinic, demo_catalogue, reasons=["ok"])
    warning = RuleResult("allergy", Outcome.WARN, "X contains Y", "item1")
    panel.findings.show_results([warning])
    panel.findings.ask_reason(warning)
    assert panel.findings.reasons == {} and "at least 5 characters" in panel.findings.problem


def test_a_controlled_drug_gets_its_quantity_in_words(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    panel = panel_for(qtbot, clinic, demo_catalogue)
    choose_patient(qtbot, panel, add_patient(clinic))
    vmp = vmp_with_schedule(demo_catalogue, ("0002",))
    type_and_choose_medicine(qtbot, panel, demo_catalogue, vmp)
    assert panel.editor.badge.text() == "CD Schedule 2" and not panel.editor.words.isHidden()
    panel.editor.frequency.setCurrentText("twice a day")
    panel.editor.days.setValue(14)
    assert panel.editor.quantity.text() == "28" and panel.editor.words.text().startswith("twenty-eight (28)")
    panel.editor.set_quantity(Decimal(30))  # a pack size clicked
    assert panel.editor.words.text().startswith("thirty (30)")
    panel.editor.add_button.click()
    assert panel.rx is not None
    with clinic.database.reader() as session:
        [item] = get_prescription(session, panel.rx.id).items
    assert item.quantity == 30 and item.quantity_in_words is not None and item.quantity_in_words.startswith("thirty")
    assert item.dose == "1 " + item.unit + " twice a day"


def test_signing_refused_for_tokens_is_explained_first(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic, tokens=5)
    asked: list[str] = []
    panel = panel_for(qtbot, clinic, demo_catalogue)
    panel.ask_pin = lambda _w, text: asked.append(text)  # type: ignore[assignment, func-returns-value]
    choose_patient(qtbot, panel, add_patient(clinic))
    type_and_choose_medicine(qtbot, panel, demo_catalogue, vmp_with_schedule(demo_catalogue, None))
    panel.editor.add_button.click()
    findings_settled(qtbot, panel)
    assert "ask your clinic admin to top up" in panel.cost_label.text()
    panel.sign_button.click()
    assert panel.message.property("outcome") == "block" and "costs 10 tokens" in panel.message.text()
    assert asked == []  # the PIN is not even asked for


def test_a_wrong_pin_signs_nothing(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    panel = panel_for(qtbot, clinic, demo_catalogue, pin="0000")
    choose_patient(qtbot, panel, add_patient(clinic))
    type_and_choose_medicine(qtbot, panel, demo_catalogue, vmp_with_schedule(demo_catalogue, None))
    panel.editor.add_button.click()
    findings_settled(qtbot, panel)
    panel.sign_button.click()
    qtbot.waitUntil(lambda: panel._signing is None and panel.message.property("outcome") == "block", timeout=5000)
    assert panel.signed_result is None and "PIN" in panel.message.text()
    with clinic.database.reader() as session:
        assert session.execute(select(Prescription.status)).scalars().all() == ["draft"]


def test_draft_is_carried_on_and_can_be_discarded(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    patient = add_patient(clinic)
    panel = panel_for(qtbot, clinic, demo_catalogue)
    choose_patient(qtbot, panel, patient)
    type_and_choose_medicine(qtbot, panel, demo_catalogue, vmp_with_schedule(demo_catalogue, None))
    panel.editor.add_button.click()
    panel.repeat.setChecked(True)  # options of an existing draft are saved at once
    draft_id = panel.rx.id if panel.rx else ""
    again = panel_for(qtbot, clinic, demo_catalogue)
    choose_patient(qtbot, again, patient)
    assert again.rx is not None and again.rx.id == draft_id and again.items.rowCount() == 1
    assert again.repeat.isChecked() and again.rx.repeat_total == 6 and "Carrying on" in again.message.text()
    again.discard()
    with clinic.database.reader() as session:
        assert get_prescription(session, draft_id).status == "cancelled"
    assert again.rx is None and again.items.rowCount() == 0


def test_an_item_the_core_refuses_says_why(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    panel = panel_for(qtbot, clinic, demo_catalogue)
    choose_patient(qtbot, panel, add_patient(clinic))
    type_and_choose_medicine(qtbot, panel, demo_catalogue, vmp_with_schedule(demo_catalogue, None))
    panel.editor.directions.clear()
    panel.editor.directions.textEdited.emit("")
    panel.editor.add_button.click()
    assert panel.message.property("outcome") == "block" and "Directions are required" in panel.message.text()
    assert not panel.editor.isHidden()  # what was typed is still there to fix
