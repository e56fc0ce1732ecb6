"""The controlled drugs register of one drug, printed for inspection: A4 landscape, as many pages as it takes.

Every page repeats the drug (name, strength, form) and the column headings, and is numbered "Page n of m", so
a loose page still says which register it belongs to and whether pages are missing.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate

from core.documents.formatting import address_text, format_datetime, format_quantity, format_signed
from core.documents.model import CdEntryKind, CdRegister, CdRegisterEntry
from core.documents.pdf import BOLD, FONT, new_page_numbered_canvas
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
HEADER_FILL = colors.Color(0.88, 0.88, 0.88)
CORRECTION_FILL = colors.Color(1, 0.95, 0.8)


LEADING = 9
HEADING_LEADING = 9
TOP_PADDING = 2
BOTTOM_PADDING = 3
NUMBER_COLUMNS = (5, 6)  # right-aligned
GRID = colors.Color(0.55, 0.55, 0.55)


def _cells(entry: CdRegisterEntry) -> list[str]:
    return [
        format_datetime(entry.recorded_at),
        entry.kind.value.capitalize(),
        entry.counterparty,
        entry.prescriber or "",
        entry.reference,
        format_signed(entry.quantity),
        format_quantity(entry.balance),
        entry.entered_by,
    ]


def _wrapped(cells: list[str], font: str) -> list[list[str]]:
    return [
        wrap(printable(text), font, CELL_SIZE, width - 2 * CELL_PADDING) or [""]
        for text, (_, width) in zip(cells, COLUMNS, strict=True)
    ]


class _Sheet:
    """Draws the table straight on the canvas, row by row, starting a page (with its headings) when one is full.

    Drawn by hand rather than with a platypus Table: splitting a long Table across pages re-measures it for
    every page, which made a seven-page register take longer than the 50 ms a printout may take.
    """

    def __init__(self, canvas: Canvas, register: CdRegister) -> None:
        self.canvas = canvas
        self.draw_header = _running_header(register)
        height = PAGE_SIZE[1]
        self.left = MARGIN
        self.top = height - MARGIN - HEADER_HEIGHT
        self.bottom = MARGIN + 4 * mm  # the page footer sits below
        self.y = self.top
        self.heading = _wrapped([title for title, _ in COLUMNS], BOLD)
        self._start_page()

    def _start_page(self) -> None:
        self.draw_header(self.canvas, None)
        self.y = self.top
        self._row(self.heading, BOLD, HEADER_FILL)

    def _height(self, lines: list[list[str]]) -> float:
        return max(len(cell) for cell in lines) * LEADING + TOP_PADDING + BOTTOM_PADDING

    def add(self, lines: list[list[str]], fill: colors.Color | None) -> None:
        if self.y - self._height(lines) < self.bottom:
            self.canvas.showPage()
            self._start_page()
        self._row(lines, FONT, fill)

    def _row(self, lines: list[list[str]], font: str, fill: colors.Color | None) -> None:
        canvas = self.canvas
        height = self._height(lines)
        bottom = self.y - height
        total = sum(width for _, width in COLUMNS)
        if fill is not None:
            canvas.setFillColor(fill)
            canvas.rect(self.left, bottom, total, height, stroke=0, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        x = self.left
        for column, (cell, (_, width)) in enumerate(zip(lines, COLUMNS, strict=True)):
            bold = font == BOLD or column == 6  # the balance stands out, as in a paper register
            canvas.setFont(BOLD if bold else FONT, CELL_SIZE)
            baseline = self.y - TOP_PADDING - CELL_SIZE
            for line in cell:
                if column in NUMBER_COLUMNS:
                    canvas.drawRightString(x + width - CELL_PADDING, baseline, line)
                else:
                    canvas.drawString(x + CELL_PADDING, baseline, line)
                baseline -= LEADING
            x += width
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.4)
        canvas.rect(self.left, bottom, total, height, stroke=1, fill=0)
        x = self.left
        for _, width in COLUMNS[:-1]:
            x += width
            canvas.line(x, bottom, x, self.y)
        self.y = bottom


def _running_header(register: CdRegister) -> Callable[[Canvas, BaseDocTemplate | None], None]:
    organisation = register.organisation
    title = "Controlled drugs register"
    drug = printable(register.drug_name)
    facts = printable(f"Strength: {register.strength} · Form: {register.form} · Quantities in {register.unit}")
    where = printable(f"{organisation.name}, {address_text(organisation.address_lines, organisation.postcode)}")

    def draw(canvas: Canvas, document: BaseDocTemplate | None) -> None:
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
    canvas = new_page_numbered_canvas(
        out, PAGE_SIZE, f"Controlled drugs register: {printable(drug)}", f"CD register: {drug}", MARGIN
    )
    sheet = _Sheet(canvas, register)
    for entry in register.entries:
        sheet.add(_wrapped(_cells(entry), FONT), CORRECTION_FILL if entry.kind is CdEntryKind.CORRECTION else None)
    if not register.entries:
        sheet.add([["No entries recorded."]] + [[""]] * (len(COLUMNS) - 1), None)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
