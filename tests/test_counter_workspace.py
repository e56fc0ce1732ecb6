"""The counter workspace (pytest-qt, offscreen, a real app database and the demo catalogue): part dispensed and
owed, then supplied from the owings list; labels and receipt printed to PDF and read back; the CD register with a
supply and its running balance, a receipt booked in, a correction needing its reason, the register printed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QWidget
from pytestqt.qtbot import QtBot

from core.dispensing.cd_register import record_receipt, register_entries
from core.dispensing.model import SupplyLine
from core.dispensing.queries import open_owings_of_organisation
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.prescriptions.queries import get_prescription
from desktop.cd_register_dialogs import CorrectionDialog, ReceiptDialog
from desktop.counter_workspace import CounterWorkspace
from desktop.printing import PrintPreviewDialog
from tests.clinic import Clinic
from tests.test_cd_register import SUPPLIER, vmp_name
from tests.test_counter_panel import signed
from tests.test_dispensing import SCHEDULE_2, SCHEDULE_4, ready, sign, vmp_with_gtin, vmp_with_schedule


def workspace(qtbot: QtBot, clinic: Clinic, catalogue: Catalogue, role: str = "pharmacist") -> CounterWorkspace:
    ctx = clinic.pharmacist if role == "pharmacist" else clinic.technician
    widget = CounterWorkspace(ctx, lambda: catalogue, reason=lambda _w, _t: None)
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    return widget


def scan(qtbot: QtBot, ws: CounterWorkspace, where: QWidget, code: str) -> None:
    """What a barcode scanner does: a burst of keys ending in Enter, into whatever has the focus."""
    ws.activateWindow()
    qtbot.waitUntil(ws.isActiveWindow, timeout=5000)
    where.setFocus()
    qtbot.waitUntil(where.hasFocus, timeout=5000)
    qtbot.keyClicks(where, code)
    qtbot.keyClick(where, Qt.Key.Key_Return)


def text_of(path: Path) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(path).pages)


def save_preview(qtbot: QtBot, preview: PrintPreviewDialog, path: Path) -> str:
    qtbot.waitUntil(lambda: preview.page_count() > 0, timeout=10_000)
    with qtbot.waitSignal(preview.printed, timeout=20_000):
        preview.save_as_pdf(str(path))
    preview.close()
    return text_of(path)


def test_part_dispensed_then_the_owing_supplied_from_the_owings_list(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    vmp = vmp_with_gtin(demo_catalogue, SCHEDULE_4)
    rx_id = signed(clinic, demo_catalogue, vmp, quantity=28)
    ws = workspace(qtbot, clinic, demo_catalogue)
    ws.show_owings()
    assert ws.owings.table.rowCount() == 0 and "Nothing is owed" in ws.owings.message.text()
    scan(qtbot, ws, ws.owings.table, rx_id)  # heard on the Owings tab: opened on the Dispense tab
    assert ws.tabs.currentWidget() is ws.counter and ws.counter.prescription is not None
    amount = ws.counter.items.cellWidget(0, 3)
    assert isinstance(amount, QDoubleSpinBox)
    amount.setValue(20)
    ws.counter.dispense_button.click()
    assert "partially dispensed" in ws.counter.message.text()

    ws.show_owings()
    assert ws.owings.table.rowCount() == 1
    row = [ws.owings.table.item(0, column).text() for column in range(5)]
    assert row[0] == "JONES, Alice" and row[2].startswith("8 ") and row[3] == "30/03/2026"  # 28 days: Schedule 4
    ws.owings.table.selectRow(0)
    assert ws.owings.supply_button.isEnabled()
    ws.owings.supply_button.click()
    assert ws.tabs.currentWidget() is ws.counter and ws.counter.prescription is not None
    assert ws.counter.prescription.id == rx_id and ws.counter.items.item(0, 2).text().startswith("8 ")
    ws.counter.dispense_button.click()  # the rest, as the counter set it
    assert "Dispensed (dispensed)" in ws.counter.message.text()
    with clinic.database.reader() as session:
        rx = get_prescription(session, rx_id)
        assert rx.status == "dispensed" and rx.items[0].quantity_supplied == 28
    assert open_owings_of_organisation(clinic.pharmacist) == [] and ws.owings.table.rowCount() == 0


def test_labels_and_receipt_print_after_dispensing(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    vmp = vmp_with_gtin(demo_catalogue, SCHEDULE_4)
    rx_id = signed(clinic, demo_catalogue, vmp, quantity=28)
    ws = workspace(qtbot, clinic, demo_catalogue)
    counter = ws.counter
    assert not counter.labels_button.isEnabled() and counter.print_labels() is None  # nothing dispensed yet
    counter.open(rx_id)
    counter.items.cellWidget(0, 3).setValue(21)
    counter.dispense_button.click()
    assert counter.labels_button.isEnabled() and counter.receipt_button.isEnabled()

    counter.labels_button.click()
    qtbot.waitUntil(lambda: counter.preview is not None, timeout=10_000)
    assert counter.preview is not None and counter.preview.kind == "label"
    label = save_preview(qtbot, counter.preview, tmp_path / "label.pdf")
    assert "One at night" in label and "21 " in label and "Keep out of the sight and reach of children" in label
    assert "Kirkgate Pharmacy" in label

    counter.preview = None
    counter.receipt_button.click()
    qtbot.waitUntil(lambda: counter.preview is not None, timeout=10_000)
    assert counter.preview is not None and counter.preview.kind == "receipt"
    receipt = save_preview(qtbot, counter.preview, tmp_path / "receipt.pdf")
    assert "Priya Patel" in receipt and "Alice JONES" in receipt and "7" in receipt  # 7 still owed


def test_the_cd_register_shows_a_supply_with_its_running_balance(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    patient = ready(clinic)
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    name = vmp_name(demo_catalogue, vmp)
    record_receipt(clinic.pharmacist, vmp, name, 100, SUPPLIER)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    clinic.clock.advance(hours=1)
    dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])

    ws = workspace(qtbot, clinic, demo_catalogue)
    ws.show_cd_register()
    panel = ws.cd_register
    assert panel is not None and ws.tabs.currentWidget() is panel
    assert panel.product_list.count() == 1 and "balance 72" in panel.product_list.item(0).text()
    assert panel.entries.rowCount() == 2 and panel.title.text().endswith("balance 72")
    supply = [panel.entries.item(1, column).text() for column in range(panel.entries.columnCount())]
    assert supply[2] == "Supplied" and supply[5] == "-28" and supply[6] == "72"
    assert (
        supply[3] == "Alice Jones, 3 Park Row, Leeds, LS1 5AB"
        and "Dr Jane Smith" in supply[4]
        and supply[7] == "Priya Patel"
    )
    assert [panel.entries.item(0, c).text() for c in (2, 3, 5, 6)] == ["Received", SUPPLIER, "+100", "100"]

    receipt = panel.book_receipt()  # the product shown is the one received
    assert isinstance(receipt, ReceiptDialog) and receipt.chosen_product() == (vmp, name)
    receipt.quantity.setText("50")
    receipt.supplier.setText("")
    receipt.submit()  # the core refuses: the dialog stays open with its sentence, nothing written
    assert receipt.isVisible() and "supplier" in receipt.error.text()
    assert len(register_entries(clinic.pharmacist, vmp)) == 2
    receipt.supplier.setText(SUPPLIER)
    receipt.submit()
    assert not receipt.isVisible() and panel.entries.rowCount() == 3 and panel.title.text().endswith("balance 122")

    panel.entries.selectRow(2)
    correction = panel.correct_selected()
    assert isinstance(correction, CorrectionDialog)
    correction.change.setText("-5")
    correction.submit()
    assert correction.isVisible() and "Say why" in correction.error.text()
    correction.reason.setText("Delivery note said 50, the box held 45")
    correction.submit()
    assert panel.entries.rowCount() == 4
    last = [panel.entries.item(3, c).text() for c in (2, 5, 6, 8)]
    assert last == ["Correction of no. 3", "-5", "117", "Delivery note said 50, the box held 45"]
    entries = register_entries(clinic.pharmacist, vmp)
    assert [e.balance for e in entries] == [Decimal(100), Decimal(72), Decimal(122), Decimal(117)]

    panel.print_button.click()
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=10_000)
    assert panel.preview is not None and panel.preview.kind == "report"
    printed = save_preview(qtbot, panel.preview, tmp_path / "register.pdf")
    assert SUPPLIER.split(",")[0] in printed and "Delivery note said 50" in printed and "117" in printed


def test_a_technician_has_no_cd_register_and_no_printing(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    ws = workspace(qtbot, clinic, demo_catalogue, role="technician")
    assert ws.cd_register is None and [ws.tabs.tabText(i) for i in range(ws.tabs.count())] == [
        "Dispense (F2)",
        "Owings (F3)",
    ]
    assert ws.counter.labels_button.isHidden() and ws.counter.dispense_button.isHidden()


def test_function_keys_move_around_the_counter(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    ws = workspace(qtbot, clinic, demo_catalogue)
    ws.activateWindow()
    qtbot.waitUntil(lambda: ws.isActiveWindow(), timeout=5000)
    ws.counter.find_box.setFocus()
    qtbot.keyClick(ws.counter.find_box, Qt.Key.Key_F3)
    assert ws.tabs.currentWidget() is ws.owings
    qtbot.keyClick(ws.owings.table, Qt.Key.Key_F4)
    assert ws.tabs.currentWidget() is ws.cd_register
    qtbot.keyClick(ws.focusWidget() or ws, Qt.Key.Key_F2)
    assert ws.tabs.currentWidget() is ws.counter and ws.counter.find_box.hasFocus()
    assert "(F5)" in ws.counter.dispense_button.toolTip() and "(F9)" in ws.counter.labels_button.toolTip()
    assert ws.counter.find_box.accessibleName() and ws.owings.table.accessibleName()


def test_an_owing_marked_ready_for_collection_from_the_owings_list(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    vmp = vmp_with_gtin(demo_catalogue, SCHEDULE_4)
    rx_id = signed(clinic, demo_catalogue, vmp, quantity=28)
    with clinic.database.reader() as session:
        item_id = get_prescription(session, rx_id).items[0].id
    dispense_items(clinic.pharmacist, demo_catalogue, rx_id, [SupplyLine(item_id, 20)])
    ws = workspace(qtbot, clinic, demo_catalogue)
    ws.show_owings()
    panel = ws.owings
    assert panel.table.item(0, 5).text() == "Awaiting stock" and not panel.ready_button.isEnabled()
    panel.table.selectRow(0)
    assert panel.ready_button.isVisible() and panel.ready_button.isEnabled()
    panel.ready_button.click()
    assert panel.table.item(0, 5).text() == "Ready for collection"
    assert "is ready for collection" in panel.message.text()
    [owing] = open_owings_of_organisation(clinic.pharmacist)
    assert owing.owing.status == "ready"
    panel.table.selectRow(0)
    assert not panel.ready_button.isEnabled() and panel.supply_button.isEnabled()  # still to be supplied

    technician = workspace(qtbot, clinic, demo_catalogue, role="technician")
    technician.show_owings()
    assert technician.owings.table.rowCount() == 1 and not technician.owings.ready_button.isVisible()
