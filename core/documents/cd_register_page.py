"""The controlled drugs register of one drug, printed for inspection: A4 landscape, as many pages as it takes.

Every page repeats the drug (name, strength, form) and the column headings, and is numbered "Page n of m", so
a loose page still says which register it belongs to and whether pages are missing.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Paragraph, Table, TableStyle

from core.documents.formatting import address_text, format_datetime, format_quantity, format_signed
from core.documents.model import CdEntryKind, CdRegister, CdRegisterEntry
from core.documents.pdf import BOLD, FONT, new_document, page_numbered_canvas
from core.documents.text import printable, wrap

PAGE_SIZE = landscape(A4)
MARGIN = 12 * mm
HEADER_HEIGHT = 22 * mm  # the running header drawn above the table on every page
COLUMNS = (  # 273 mm in all; sized for DejaVu Sans 7.5 pt, so a typical entry takes two lines
    ("Date and time", 29 * mm),  # "08 Nov 2026 00:00" and the cell padding
    ("Entry", 18 * mm),
    ("Received from / supplied to (name and address)", 58 * mm),
    ("Prescriber (name and address)", 64 * mm),  # a name, a practice and its address
    ("Reference / reason", 42 * mm),
    ("Quantity", 16 * mm),
    ("Balance", 17 * mm),
    ("Entered by", 29 * mm),
)
CELL_SIZE = 7.5
CELL_PADDING = 4
HEADING = ParagraphStyle("heading", fontName=BOLD, fontSize=CELL_SIZE, leading=9)
NUMBER_HEADING = ParagraphStyle("number_heading", parent=HEADING, alignment=2)
HEADER_FILL = colors.Color(0.88, 0.88, 0.88)
CORRECTION_FILL = colors.Color(1, 0.95, 0.8)


def _cell(text: str, column: int) -> str:
    # Wrapped here into plain lines: a Paragraph per cell would make a long register several times slower.
    return "\n".join(wrap(text, FONT, CELL_SIZE, COLUMNS[column][1] - 2 * CELL_PADDING))


def _row(entry: CdRegisterEntry) -> list[object]:
    return [
        format_datetime(entry.recorded_at),
        entry.kind.value.capitalize(),
        _cell(entry.counterparty, 2),
        _cell(entry.prescriber or "", 3),
        _cell(entry.reference, 4),
        format_signed(entry.quantity),
        format_quantity(entry.balance),
        _cell(entry.entered_by, 7),
    ]


def _table(register: CdRegister) -> Table:
    heading: list[object] = [
        Paragraph(title, NUMBER_HEADING if title in ("Quantity", "Balance") else HEADING) for title, _ in COLUMNS
    ]
    rows = [heading] + [_row(entry) for entry in register.entries]
    if not register.entries:
        rows.append(["No entries recorded.", *[""] * (len(COLUMNS) - 1)])
    table = Table(rows, colWidths=[width for _, width in COLUMNS], repeatRows=1)
    style = [
        ("FONT", (0, 1), (-1, -1), FONT, CELL_SIZE, 9),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (5, 1), (6, -1), "RIGHT"),
        ("FONT", (6, 1), (6, -1), BOLD, CELL_SIZE, 9),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.55, 0.55, 0.55)),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    for index, entry in enumerate(register.entries, start=1):
        if entry.kind is CdEntryKind.CORRECTION:
            style.append(("BACKGROUND", (0, index), (-1, index), CORRECTION_FILL))
    table.setStyle(TableStyle(style))
    return table


def _running_header(register: CdRegister) -> Callable[[Canvas, BaseDocTemplate], None]:
    organisation = register.organisation
    title = "Controlled drugs register"
    drug = printable(register.drug_name)
    facts = printable(f"Strength: {register.strength} · Form: {register.form} · Quantities in {register.unit}")
    where = printable(f"{organisation.name}, {address_text(organisation.address_lines, organisation.postcode)}")

    def draw(canvas: Canvas, document: BaseDocTemplate) -> None:
        width, height = PAGE_SIZE
        top = height - MARGIN
        canvas.saveState()
        canvas.setFont(BOLD, 9)
        canvas.setFillColorRGB(0.35, 0.35, 0.35)
        canvas.drawString(MARGIN, top - 9, title.upper())
        canvas.setFont(FONT, 8)
        canvas.drawRightString(width - MARGIN, top - 9, where)
        canvas.setFillColorRGB(0, 0, 0)
        canvas.setFont(BOLD, 14)
        canvas.drawString(MARGIN, top - 27, drug)
        canvas.setFont(FONT, 9)
        canvas.drawString(MARGIN, top - 40, facts)
        canvas.restoreState()

    return draw


def render_cd_register(register: CdRegister) -> bytes:
    """The register as PDF bytes: A4 landscape, the column headings and the drug repeated on every page."""
    out = io.BytesIO()
    drug = f"{register.drug_name} ({register.strength}, {register.form})"
    document = new_document(
        out,
        PAGE_SIZE,
        f"Controlled drugs register: {printable(drug)}",
        MARGIN,
        top_margin=MARGIN + HEADER_HEIGHT,
        on_page=_running_header(register),
    )
    document.build([_table(register)], canvasmaker=page_numbered_canvas(f"CD register: {drug}", MARGIN))
    return out.getvalue()
