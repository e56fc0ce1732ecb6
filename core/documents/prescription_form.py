"""The printable prescription, on A5 or A4, with every particular UK law asks of it (DESIGN.md section 5)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from core.documents.barcodes import code128, qr_code
from core.documents.formatting import (
    address_text,
    format_date,
    format_nhs_number,
    format_quantity,
    quantity_in_words,
)
from core.documents.model import PrescribedItem, PrescriptionDocument
from core.documents.pdf import BOLD, FONT, MONO, markup, new_document, page_numbered_canvas
from core.documents.text import printable, text_width

PageSize = Literal["A5", "A4"]
GREY = colors.Color(0.35, 0.35, 0.35)
CODE128_MODULE = 0.25 * mm  # 2 dots at 203 dpi, 3 at 300 dpi: prints cleanly on any office printer
QR_SIZE = 24 * mm
# "As directed" alone is not a dose on a Schedule 2/3 prescription (DESIGN.md section 5).
_AS_DIRECTED = re.compile(r"(?:(?:take|use|apply)\s+)?as\s+(?:directed|dir\.?)", re.IGNORECASE)


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    heading: ParagraphStyle
    title: ParagraphStyle
    organisation: ParagraphStyle
    item: ParagraphStyle
    margin: float


def _styles(page_size: PageSize) -> _Styles:
    size = 8.5 if page_size == "A5" else 10.0
    body = ParagraphStyle("body", fontName=FONT, fontSize=size, leading=size * 1.25)
    return _Styles(
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=size - 1.5, leading=(size - 1.5) * 1.25, textColor=GREY),
        heading=ParagraphStyle("heading", parent=body, fontName=BOLD, fontSize=size - 1, textColor=GREY),
        title=ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=size + 6, leading=size + 8, alignment=2),
        organisation=ParagraphStyle("organisation", parent=body, fontName=BOLD, fontSize=size + 3, leading=size + 5),
        item=ParagraphStyle("item", parent=body, fontName=BOLD, fontSize=size + 0.5),
        margin=(10 if page_size == "A5" else 15) * mm,
    )


def _check_controlled_drug_particulars(prescription: PrescriptionDocument) -> None:
    for item in prescription.items:
        if not item.is_schedule_2_or_3:
            continue
        what = f"{item.name} is a Schedule {item.cd_schedule} controlled drug: its"
        for particular, value in (("strength", item.strength), ("form", item.form), ("dose", item.dose)):
            if not value.strip():
                raise ValueError(f"{what} {particular} must be written on the prescription.")
        if _AS_DIRECTED.fullmatch(item.dose.strip().rstrip(".")):
            raise ValueError(f"{what} dose must be stated; 'as directed' alone is not allowed.")


def _quantity_text(item: PrescribedItem) -> str:
    figures = format_quantity(item.quantity)
    if item.is_schedule_2_or_3:
        words = item.quantity_in_words or quantity_in_words(item.quantity)
        return f"<b>Total quantity:</b> {markup(figures)} ({markup(words)}) {markup(item.unit)}"
    return f"<b>Quantity:</b> {markup(figures)} {markup(item.unit)}"


def _item(number: int, item: PrescribedItem, styles: _Styles, width: float) -> Flowable:
    """One boxed item: name (and "CD Sch N" marker) on top, then one line per particular."""
    facts = " &nbsp; ".join(
        f"<b>{label}:</b> {markup(value)}" for label, value in (("Strength", item.strength), ("Form", item.form))
    )
    lines = [facts] if item.strength.strip() or item.form.strip() else []
    if item.dose.strip():
        lines.append(f"<b>Dose:</b> {markup(item.dose)}")
    if item.directions.strip():
        lines.append(f"<b>Directions:</b> {markup(item.directions)}")
    quantity = _quantity_text(item)
    if item.days_supply:
        quantity += f" &nbsp; <b>Supply:</b> {item.days_supply} days"
    lines.append(quantity)
    name = Paragraph(f"{number}. {markup(item.name)}", styles.item)
    particulars = [Paragraph(line, styles.body) for line in lines]
    style = [
        ("BOX", (0, 0), (-1, -1), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("TOPPADDING", (0, 0), (-1, 0), 4),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 4),
    ]
    if not item.cd_schedule:
        table = Table([[name], *[[line] for line in particulars]], colWidths=[width])
    else:
        marker = f"CD Sch {item.cd_schedule}"
        marker_width = text_width(marker, BOLD, styles.body.fontSize) + 14
        rows = [[name, Paragraph(f"<b>{marker}</b>", styles.body)], *[[line, ""] for line in particulars]]
        table = Table(rows, colWidths=[width - marker_width, marker_width])
        style += [("SPAN", (0, row), (1, row)) for row in range(1, len(rows))]
        style.append(("BACKGROUND", (1, 0), (1, 0), colors.Color(0.88, 0.88, 0.88)))
    table.setStyle(TableStyle(style))
    return table


def _header(prescription: PrescriptionDocument, styles: _Styles, width: float) -> Flowable:
    organisation = prescription.organisation
    left = [
        Paragraph(markup(organisation.name), styles.organisation),
        Paragraph(markup(address_text(organisation.address_lines, organisation.postcode)), styles.body),
        Paragraph(f"Tel {markup(organisation.phone)}", styles.body),
    ]
    repeat = prescription.repeat
    right = [
        Paragraph("Prescription", styles.title),
        Paragraph(
            f"Repeat issue {repeat.number} of {repeat.total}" if repeat else "",
            ParagraphStyle("right", parent=styles.body, fontName=BOLD, alignment=2),
        ),
    ]
    table = Table([[left, right]], colWidths=[width * 0.62, width * 0.38])
    table.setStyle(_plain_grid())
    return table


def _people(prescription: PrescriptionDocument, styles: _Styles, width: float) -> Flowable:
    patient, prescriber = prescription.patient, prescription.prescriber
    signed = prescription.signed_at.date()
    dob = patient.date_of_birth
    age = signed.year - dob.year - ((signed.month, signed.day) < (dob.month, dob.day))
    patient_lines = [
        Paragraph("PATIENT", styles.heading),
        Paragraph(f"<b>{markup(patient.name)}</b>", styles.body),
        Paragraph(f"Date of birth: {format_date(dob)} (age {age})", styles.body),
        Paragraph(
            f"NHS number: {format_nhs_number(patient.nhs_number) if patient.nhs_number else 'not known'}", styles.body
        ),
        Paragraph(_address(patient.address_lines, patient.postcode), styles.body),
    ]
    prescriber_lines = [
        Paragraph("PRESCRIBER", styles.heading),
        Paragraph(f"<b>{markup(prescriber.name)}</b>", styles.body),
        Paragraph(markup(prescriber.profession), styles.body),
        Paragraph(markup(prescriber.registration), styles.body),
        Paragraph(markup(prescription.organisation.name), styles.body),
    ]
    table = Table([[patient_lines, prescriber_lines]], colWidths=[width * 0.55, width * 0.45])
    style = _plain_grid()
    style.add("LINEABOVE", (0, 0), (-1, 0), 0.6, colors.black)
    style.add("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black)
    style.add("TOPPADDING", (0, 0), (-1, -1), 4)
    style.add("BOTTOMPADDING", (0, 0), (-1, -1), 5)
    table.setStyle(style)
    return table


def _address(address_lines: tuple[str, ...], postcode: str | None) -> str:
    """The address as one paragraph; the postcode never breaks across lines."""
    parts = [markup(line) for line in address_lines if line.strip()]
    if postcode:
        parts.append(markup(postcode).replace(" ", "&nbsp;"))
    return ", ".join(parts)


def _closing(prescription: PrescriptionDocument, styles: _Styles, width: float) -> list[Flowable]:
    """Signature, dates and the id in both symbologies, kept together on the last page."""
    pid = prescription.prescription_id
    signature = Table([[""]], colWidths=[width * 0.5], rowHeights=[9 * mm])
    signature.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.6, colors.black)]))
    linear = code128(pid, CODE128_MODULE, 10 * mm)
    left = [
        Paragraph("Signature of prescriber", styles.small),
        signature,
        Spacer(1, 2 * mm),
        Paragraph(f"<b>Date signed:</b> {format_date(prescription.signed_at.date())}", styles.body),
        *(
            [Paragraph(f"<b>Not to be dispensed before:</b> {format_date(start)}", styles.body)]
            if (start := prescription.not_before) and start > prescription.signed_at.date()
            else []
        ),
        Paragraph(f"<b>Valid until:</b> {format_date(prescription.valid_until)}", styles.body),
        *(
            [Paragraph(f"<b>CD items (Sch 2-4) valid until:</b> {format_date(cd_until)}", styles.body)]
            if (cd_until := prescription.cd_valid_until) and cd_until != prescription.valid_until
            else []
        ),
        Spacer(1, 3 * mm),
        linear,
        Paragraph(pid, ParagraphStyle("id", parent=styles.body, fontName=MONO, leftIndent=linear.lquiet)),
    ]
    codes = Table([[left, qr_code(pid, QR_SIZE)]], colWidths=[width - QR_SIZE, QR_SIZE])
    style = _plain_grid()
    style.add("VALIGN", (0, 0), (-1, -1), "BOTTOM")
    codes.setStyle(style)
    return [Spacer(1, 5 * mm), codes]


def _stamp(text: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    """A large grey word across the page: a copy or a prescription no longer valid can never pass as one."""
    word = printable(text.upper())

    def draw(canvas: Canvas, document: BaseDocTemplate) -> None:
        width, height = document.pagesize
        canvas.saveState()
        canvas.setFillColorRGB(0.75, 0.75, 0.75)
        canvas.setFont(BOLD, min(72.0, width / max(4, len(word)) * 1.3))
        canvas.translate(width / 2, height / 2)
        canvas.rotate(35)
        canvas.drawCentredString(0, 0, word)
        canvas.restoreState()

    return draw


def _plain_grid() -> TableStyle:
    return TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ]
    )


def render_prescription(prescription: PrescriptionDocument, page_size: PageSize = "A5") -> bytes:
    """The prescription as PDF bytes on A5 or A4 portrait; long prescriptions continue on further pages."""
    if page_size not in ("A5", "A4"):
        raise ValueError(f"Prescriptions print on A5 or A4, not {page_size!r}.")
    _check_controlled_drug_particulars(prescription)
    styles = _styles(page_size)
    out = io.BytesIO()
    pid = prescription.prescription_id
    document = new_document(
        out,
        A5 if page_size == "A5" else A4,
        f"Prescription {pid}",
        styles.margin,
        on_page=_stamp(prescription.stamp) if prescription.stamp else None,
    )
    width = document.width
    story: list[Flowable] = [
        _header(prescription, styles, width),
        Spacer(1, 3 * mm),
        _people(prescription, styles, width),
        Spacer(1, 3 * mm),
        Paragraph(f"ITEMS ({len(prescription.items)})", styles.heading),
        Spacer(1, 1.5 * mm),
    ]
    items = [_item(number, item, styles, width) for number, item in enumerate(prescription.items, start=1)]
    # An item is never split across pages, and the signature never sits alone: the last item goes with it.
    for item_box in items[:-1]:
        story += [KeepTogether([item_box]), Spacer(1, 2 * mm)]
    story.append(KeepTogether([items[-1], *_closing(prescription, styles, width)]))
    # Every page names the prescription and the patient, so a loose second page can be matched to the first.
    patient = prescription.patient
    footer = f"Prescription {pid} for {patient.name}, born {format_date(patient.date_of_birth)}"
    document.build(story, canvasmaker=page_numbered_canvas(footer, styles.margin))
    return out.getvalue()
