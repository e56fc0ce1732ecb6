"""The pharmacy counter (pytest-qt, offscreen): open by scanning, a wrong pack refused, the right one accepted,
part dispensed and the rest owed, all through the core against a real app database and catalogue."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.dmd.catalogue import Catalogue
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.queries import get_prescription
from core.prescriptions.signing import sign_prescription
from desktop.counter_panel import CounterPanel
from desktop.operation import change_notifier
from desktop.topics import DISPENSINGS_CHANGED
from tests.clinic import PRESCRIBER_PIN, Clinic
from tests.prescribing_helpers import add_patient, fund_clinic
from tests.test_dispensing import SCHEDULE_4, gtin_of, vmp_with_gtin


def signed(clinic: Clinic, catalogue: Catalogue, vmp: str, quantity: int = 28) -> str:
    fund_clinic(clinic)
    rx = create_prescription(clinic.prescriber, add_patient(clinic).id)
    add_item(clinic.prescriber, catalogue, rx.id, vmp, dose="1 at night", directions="One at night",
             quantity=quantity, days_supply=28)  # fmt: skip
    sign_prescription(clinic.prescriber, catalogue, rx.id, PRESCRIBER_PIN)
    return rx.id


def counter(qtbot: QtBot, clinic: Clinic, catalogue: Catalogue, reasons: list[str] | None = None) -> CounterPanel:
    answers = list(reasons or [])
    panel = CounterPanel(
        clinic.pharmacist, lambda: catalogue, reason=lambda _w, _t: answers.pop(0) if answers else None
    )
    qtbot.addWidget(panel)
    panel.show()
    return panel


def test_scan_open_check_packs_and_dispense_part(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_gtin(demo_catalogue, SCHEDULE_4)
    rx_id = signed(clinic, demo_catalogue, vmp)
    panel = counter(qtbot, clinic, demo_catalogue)
    assert panel.queue.count() == 1  # the queue lists it, by whom it is for
    assert panel.queue.item(0).text().startswith("JONES, Alice\n") and "1 item · signed" in panel.queue.item(0).text()
    panel.scanned(rx_id)  # what the scanner's burst delivers (the detector itself: tests/test_scanner.py)
    assert panel.prescription is not None and panel.prescription.id == rx_id
    assert panel.title.text().startswith("JONES, Alice · born ")
    other = gtin_of(demo_catalogue, vmp_with_gtin(demo_catalogue, ("0000",)))  # not a controlled drug
    panel.scanned(other)
    assert panel.message.property("outcome") == "block" and "Wrong product" in panel.message.text()
    panel.scanned(gtin_of(demo_catalogue, vmp))
    assert panel.message.property("outcome") == "allow" and panel.items.item(0, 4).text().startswith("✓")
    panel.items.cellWidget(0, 3).setValue(20)
    with qtbot.waitSignal(change_notifier().changed, timeout=1000) as announced:  # views refresh, sync sends it
        panel.dispense_button.click()
    assert DISPENSINGS_CHANGED in announced.args[0]
    assert "partially dispensed" in panel.message.text() and "8 " in panel.message.text()
    with clinic.database.reader() as session:
        rx = get_prescription(session, rx_id)
        assert rx.status == "partially dispensed" and rx.items[0].quantity_supplied == 20


def test_an_end_dated_pack_needs_a_reason(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    from tests.prescribing_helpers import vmp_with_schedule

    vmp = vmp_with_schedule(demo_catalogue, None)
    old = gtin_of(demo_catalogue, vmp, end_dated=True)
    rx_id = signed(clinic, demo_catalogue, vmp)
    panel = counter(qtbot, clinic, demo_catalogue)  # no reason given: the pack is not accepted
    panel.scanned(rx_id)
    panel.scanned(old)
    assert panel.message.property("outcome") == "warn" and "end-dated" in panel.message.text()
    assert panel.items.item(0, 4).text() == "not scanned"
    willing = counter(qtbot, clinic, demo_catalogue, ["Checked the pack against the prescription"])
    willing.scanned(rx_id)
    willing.scanned(old)
    assert willing.items.item(0, 4).text().startswith("✓")
    willing.dispense_button.click()
    assert "Dispensed (dispensed)" in willing.message.text()


def test_a_draft_or_unknown_id_is_refused(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    panel = counter(qtbot, clinic, demo_catalogue)
    panel.scanned("0" * 32)
    assert panel.message.property("outcome") == "block" and "No prescription" in panel.message.text()
    panel.scanned("5012345678900")
    assert "Scan the prescription first" in panel.message.text()
