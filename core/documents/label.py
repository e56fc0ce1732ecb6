"""The dispensing label stuck on the medicine pack: 70 × 35 mm, the common UK pharmacy label roll size.

Medicine, quantity, directions and cautions shrink together from 10 pt to 6 pt to fit; the patient name, date,
the "Keep out of the sight and reach of children" line and the pharmacy's name and address keep fixed sizes at
the bottom. Text that cannot fit at 6 pt raises ValueError: a label must never lose words silently.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.documents.formatting import address_text, format_date
from core.documents.model import DispensingLabel
from core.documents.pdf import BOLD, FONT, new_canvas
from core.documents.text import printable, text_width, wrap

LABEL_WIDTH = 70 * mm
LABEL_HEIGHT = 35 * mm
MARGIN = 2 * mm
CONTENT_WIDTH = LABEL_WIDTH - 2 * MARGIN
CONTENT_HEIGHT = LABEL_HEIGHT - 2 * MARGIN
KEEP_OUT_OF_REACH = "Keep out of the sight and reach of children"
LARGEST_SIZE = 10.0
SMALLEST_SIZE = 6.0  # below this a label is not reliably legible
SIZE_STEP = 0.5
LEADING = 1.15
GAP = 2 * mm
BLOCK_GAP = 1 * mm


@dataclass(frozen=True)
class _Line:
    text: str
    font: str
    size: float
    right: str = ""  # drawn right-aligned on the same baseline


def _lines(text: str, font: str, size: float, right: str = "") -> list[_Line]:
    """``text`` wrapped, with ``right`` on its first line (the wrap leaves room for it)."""
    right = printable(right)
    width = CONTENT_WIDTH - (text_width(right, font, size) + GAP if right else 0)
    wrapped = wrap(text, font, size, width)
    return [_Line(line, font, size, right if index == 0 else "") for index, line in enumerate(wrapped)]


def _height(lines: list[_Line]) -> float:
    return sum(line.size * LEADING for line in lines)


def _body(label: DispensingLabel, size: float) -> list[_Line]:
    lines = _lines(label.medicine, BOLD, size, right=label.quantity)
    lines += _lines(label.directions, FONT, size)
    for caution in label.cautions:
        lines += _lines(caution, FONT, size)
    return lines


def _footer(label: DispensingLabel) -> list[_Line]:
    organisation = label.organisation
    pharmacy = f"{organisation.name}, {address_text(organisation.address_lines, organisation.postcode)}"
    lines = _lines(label.patient_name, BOLD, 8, right=format_date(label.dispensed_on))
    lines += _lines(KEEP_OUT_OF_REACH, BOLD, 6.5)
    lines += _lines(pharmacy, FONT, 6)  # the law asks for name and address; the phone number would cost a line
    return lines


def _fitted_body(label: DispensingLabel, room: float) -> list[_Line]:
    size = LARGEST_SIZE
    while size >= SMALLEST_SIZE:
        body = _body(label, size)
        if _height(body) <= room:
            return body
        size -= SIZE_STEP
    raise ValueError(
        f"The label text does not fit on a 70 × 35 mm label even at {SMALLEST_SIZE:g} pt: "
        f"shorten the directions or cautions for {printable(label.medicine)}."
    )


def render_label(label: DispensingLabel) -> bytes:
    """The label as PDF bytes: one 70 × 35 mm page."""
    footer = _footer(label)
    body = _fitted_body(label, CONTENT_HEIGHT - _height(footer) - BLOCK_GAP)
    out = io.BytesIO()
    canvas = new_canvas(out, (LABEL_WIDTH, LABEL_HEIGHT), f"Dispensing label: {printable(label.medicine)}")
    top = LABEL_HEIGHT - MARGIN
    _draw(canvas, body, top)
    _draw(canvas, footer, MARGIN + _height(footer))
    rule_y = MARGIN + _height(footer) + BLOCK_GAP / 2
    canvas.setLineWidth(0.4)
    canvas.line(MARGIN, rule_y, LABEL_WIDTH - MARGIN, rule_y)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _draw(canvas: Canvas, lines: list[_Line], top: float) -> None:
    y = top
    for line in lines:
        # The baseline sits a font size below the line top; the rest of the leading is the descender room.
        baseline = y - line.size
        canvas.setFont(line.font, line.size)
        canvas.drawString(MARGIN, baseline, line.text)
        if line.right:
            canvas.drawRightString(LABEL_WIDTH - MARGIN, baseline, line.right)
        y -= line.size * LEADING
