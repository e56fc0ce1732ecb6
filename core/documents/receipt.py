"""The dispensing receipt for an 80 mm thermal roll: one page as long as its content."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Literal

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from core.documents.barcodes import code128, code128_modules, qr_code
from core.documents.formatting import address_text, format_datetime, format_quantity
from core.documents.model import DispensedLine, ReceiptDocument
from core.documents.pdf import BOLD, FONT, MONO, new_canvas
from core.documents.text import printable, text_width, wrap

PAGE_WIDTH = 80 * mm
MARGIN = 4 * mm  # 80 mm printers print 72 mm (576 dots at 203 dpi) centred on the roll
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
TOP_MARGIN = 4 * mm
BOTTOM_MARGIN = 10 * mm  # room for the tear bar
GAP = 3 * mm

Align = Literal["left", "centre", "right"]
_Draw = Callable[[Canvas, float], None]  # draws given the page height


class _Column:
    """Lays content out top to bottom first, so the page height is known before anything is drawn."""

    def __init__(self) -> None:
        self.depth = TOP_MARGIN
        self.ops: list[_Draw] = []

    def text(self, text: str, font: str, size: float, align: Align = "left") -> None:
        for line in wrap(text, font, size, CONTENT_WIDTH):
            self._line(line, font, size, align, MARGIN, CONTENT_WIDTH)
            self.depth += size * 1.25

    def pair(
        self, left: str, right: str, font: str, size: float, right_font: str | None = None, indent: float = 0
    ) -> None:
        """``left`` wrapped in what ``right`` (right-aligned, on the first line) leaves free."""
        right_font = right_font or font
        right = printable(right)
        free = CONTENT_WIDTH - indent - text_width(right, right_font, size) - GAP
        for index, line in enumerate(wrap(left, font, size, free)):
            self._line(line, font, size, "left", MARGIN + indent, free)
            if index == 0:
                self._line(right, right_font, size, "right", MARGIN, CONTENT_WIDTH)
            self.depth += size * 1.25

    def label_value(self, label: str, value: str, size: float) -> None:
        """A short label on the left and its value right-aligned, the value wrapping below itself."""
        label_width = text_width(label, FONT, size) + GAP
        for index, line in enumerate(wrap(value, BOLD, size, CONTENT_WIDTH - label_width)):
            if index == 0:
                self._line(label, FONT, size, "left", MARGIN, label_width)
            self._line(line, BOLD, size, "right", MARGIN, CONTENT_WIDTH)
            self.depth += size * 1.25

    def rule(self) -> None:
        depth = self.depth + 1.2 * mm
        self.ops.append(lambda c, height: c.line(MARGIN, height - depth, PAGE_WIDTH - MARGIN, height - depth))
        self.depth += 3.5 * mm

    def space(self, points: float) -> None:
        self.depth += points

    def centred(self, flowable: Flowable, width: float, height: float) -> None:
        depth = self.depth + height
        x = (PAGE_WIDTH - width) / 2
        self.ops.append(lambda c, page_height: flowable.drawOn(c, x, page_height - depth))
        self.depth = depth

    def _line(self, line: str, font: str, size: float, align: Align, x: float, width: float) -> None:
        baseline = self.depth + size

        def draw(c: Canvas, height: float) -> None:
            c.setFont(font, size)
            if align == "left":
                c.drawString(x, height - baseline, line)
            elif align == "right":
                c.drawRightString(x + width, height - baseline, line)
            else:
                c.drawCentredString(x + width / 2, height - baseline, line)

        self.ops.append(draw)

    def render(self, title: str) -> bytes:
        height = self.depth + BOTTOM_MARGIN
        out = io.BytesIO()
        canvas = new_canvas(out, (PAGE_WIDTH, height), title)
        canvas.setLineWidth(0.5)
        for op in self.ops:
            op(canvas, height)
        canvas.showPage()
        canvas.save()
        return out.getvalue()


def _quantity(amount: DispensedLine) -> str:
    return f"{format_quantity(amount.quantity)} {amount.unit}"


def render_receipt(receipt: ReceiptDocument) -> bytes:
    """The receipt as PDF bytes: 80 mm wide, as tall as its content."""
    organisation = receipt.organisation
    column = _Column()
    column.text(organisation.name, BOLD, 11, "centre")
    column.text(address_text(organisation.address_lines, organisation.postcode), FONT, 8, "centre")
    column.text(f"Tel {organisation.phone}", FONT, 8, "centre")
    column.rule()
    column.text("Dispensing receipt", BOLD, 10, "centre")
    column.space(1 * mm)
    column.label_value("Patient", receipt.patient_name, 8.5)
    column.label_value("Dispensed", format_datetime(receipt.dispensed_at), 8.5)
    column.label_value("Pharmacist", receipt.pharmacist_name, 8.5)
    column.rule()
    column.pair("Item", "Quantity", BOLD, 8.5)
    for line in receipt.items:
        column.space(0.8 * mm)
        column.pair(line.description, _quantity(line), FONT, 8.5, BOLD)
        if line.owing:
            column.pair("Owing, to collect", f"{format_quantity(line.owing)} {line.unit}", FONT, 8, indent=3 * mm)
    column.rule()
    column.text("Prescription", FONT, 8, "centre")
    column.space(1 * mm)
    # The bars take the whole printable width (the quiet zones fall in the margins): the widest module there is.
    module = CONTENT_WIDTH / code128_modules(receipt.prescription_id)
    linear = code128(receipt.prescription_id, module, 12 * mm)
    column.centred(linear, linear.width, 12 * mm)
    column.space(2 * mm)
    qr_size = 26 * mm
    column.centred(qr_code(receipt.prescription_id, qr_size), qr_size, qr_size)
    column.text(receipt.prescription_id, MONO, 8, "centre")
    return column.render(f"Dispensing receipt {receipt.prescription_id}")
