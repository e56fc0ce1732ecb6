"""Print preview and printing (pytest-qt, offscreen): no printer is reachable here, so documents are printed to a
PDF file by QPrinter and read back with pypdf; the preview's pages and the printer remembered per kind."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from core.documents.cd_register_page import render_cd_register
from core.documents.label import render_label
from core.documents.model import (
    CdEntryKind,
    CdRegister,
    CdRegisterEntry,
    DispensedLine,
    DispensingLabel,
    OrganisationDetails,
    ReceiptDocument,
)
from core.documents.receipt import render_receipt
from desktop.printing import (
    DocumentKind,
    PrintingError,
    PrintPreviewDialog,
    preview_and_print,
    print_pdfs,
    remember_printer,
    remembered_printer,
)

PHARMACY = OrganisationDetails("Kirkgate Pharmacy", ("22 Kirkgate", "Leeds"), "LS2 7DJ", "0113 496 0101")
RX_ID = "0190f3a4b5c6d7e8f9a0b1c2d3e4f5a6"


def label(directions: str) -> bytes:
    return render_label(
        DispensingLabel(PHARMACY, "Ian MURRAY", "Amoxicillin 500mg capsules", directions, "21 capsules",
                        date(2026, 3, 2))
    )  # fmt: skip


def receipt() -> bytes:
    return render_receipt(
        ReceiptDocument(PHARMACY, "Ian MURRAY", (DispensedLine("Amoxicillin 500mg capsules", 14, "capsule", 7),),
                        "Priya Patel", datetime(2026, 3, 2, 10, 15, tzinfo=UTC), RX_ID)
    )  # fmt: skip


def register(entries: int) -> bytes:
    lines = tuple(
        CdRegisterEntry(datetime(2026, 3, 2, 9, tzinfo=UTC), CdEntryKind.SUPPLY, f"Patient {n}, 3 Park Row",
                        "Dr Jane Smith, GMC 1234567", Decimal(-1), Decimal(500 - n), "Priya Patel", f"Rx {n:08d}")
        for n in range(entries)
    )  # fmt: skip
    return render_cd_register(CdRegister(PHARMACY, "Morphine sulfate", "10mg", "tablets", "tablets", lines))


def text_of(path: Path) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(path).pages)


def pdf_printer(path: Path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    return printer


def test_print_pdfs_paints_every_page_at_its_own_size_and_keeps_the_text(qtbot: QtBot, tmp_path: Path) -> None:
    out = tmp_path / "printed.pdf"
    pages = print_pdfs(pdf_printer(out), [label("Take ONE capsule THREE times a day"), receipt()])
    assert pages == 2
    reader = PdfReader(out)
    assert len(reader.pages) == 2
    label_box, receipt_box = (page.mediabox for page in reader.pages)
    assert (round(float(label_box.width)), round(float(label_box.height))) == (198, 99)  # 70 × 35 mm
    assert round(float(receipt_box.width)) == 227  # 80 mm wide, as long as its content
    text = text_of(out)
    for expected in ("Take ONE capsule THREE times a day", "Keep out of the sight and reach of children",
                     "Ian MURRAY", "Priya Patel", "Kirkgate Pharmacy"):  # fmt: skip
        assert expected in text, expected
    assert reader.pages[0].images, "the page is painted as an image of the PDF page"


def test_a_document_that_is_not_a_pdf_is_refused_before_printing(qtbot: QtBot, tmp_path: Path) -> None:
    out = tmp_path / "never.pdf"
    with pytest.raises(PrintingError, match="could not be read"):
        print_pdfs(pdf_printer(out), [label("One daily"), b"%PDF-1.4 cut short"])
    assert not out.exists()


@pytest.fixture
def window(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def open_preview(qtbot: QtBot, parent: QWidget, kind: DocumentKind, pdfs: list[bytes]) -> PrintPreviewDialog:
    dialog = preview_and_print(parent, kind, "Labels", pdfs)
    with qtbot.waitSignal(dialog.ready, timeout=10_000):  # the pages render off the UI thread
        pass
    return dialog


def test_the_preview_shows_every_page_of_every_pdf(qtbot: QtBot, window: QWidget, tmp_path: Path) -> None:
    many = register(70)  # several A4 pages
    dialog = open_preview(qtbot, window, DocumentKind.REPORT, [label("One at night"), many])
    expected = 1 + len(PdfReader(io.BytesIO(many)).pages)
    assert len(PdfReader(io.BytesIO(many)).pages) > 1
    assert dialog.page_count() == expected and dialog.isVisible()
    assert dialog.windowModality() == Qt.WindowModality.WindowModal
    assert f"{expected} pages to print." == dialog.message.text()
    out = tmp_path / "saved.pdf"
    with qtbot.waitSignal(dialog.printed, timeout=20_000) as printed:
        dialog.save_as_pdf(str(out))
    assert printed.args == [expected] and len(PdfReader(out).pages) == expected
    assert "Patient 69, 3 Park Row" in text_of(out) and "Printed" in dialog.message.text()


def test_the_printer_is_remembered_per_kind_of_document(qtbot: QtBot, window: QWidget) -> None:
    assert remembered_printer(DocumentKind.LABEL) is None  # a fresh workstation (the tests' own settings)
    remember_printer(DocumentKind.LABEL, "Zebra GK420d")
    dialog = open_preview(qtbot, window, DocumentKind.LABEL, [label("One daily")])
    assert dialog.printer_name() == "Zebra GK420d" and "not connected" in dialog.printer_box.currentText()
    other = open_preview(qtbot, window, DocumentKind.RECEIPT, [receipt()])
    assert other.printer_name() != "Zebra GK420d"
    dialog.print_now()  # no such printer here: said plainly, nothing printed, the choice kept
    assert "Zebra GK420d is not connected" in dialog.message.text()
    assert dialog.message.property("failed") is True and remembered_printer(DocumentKind.LABEL) == "Zebra GK420d"


def test_a_broken_document_is_said_in_one_sentence(qtbot: QtBot, window: QWidget) -> None:
    dialog = open_preview(qtbot, window, DocumentKind.LABEL, [b"not a pdf"])
    assert dialog.page_count() == 0 and not dialog.print_button.isEnabled()
    assert dialog.message.text() == "The document to print could not be read (it is not a complete PDF)."
