"""Printable documents: read back as a pharmacist or inspector would, by extracting the text and scanning the
barcodes of the rendered pages."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import cast

import pypdfium2  # type: ignore[import-untyped]
import pytest
import zxingcpp
from pypdf import PdfReader
from pypdf.generic import DictionaryObject
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from benchmarks import document_samples as samples
from core.documents.cd_register_page import render_cd_register
from core.documents.fonts import BOLD, FONT, register_fonts
from core.documents.formatting import format_quantity
from core.documents.label import KEEP_OUT_OF_REACH, render_label
from core.documents.model import (
    DispensingLabel,
    PatientDetails,
    PrescribedItem,
    RepeatIssue,
    TokenStatement,
)
from core.documents.prescription_form import PageSize, render_prescription
from core.documents.receipt import render_receipt
from core.documents.text import printable, wrap
from core.documents.token_statement import render_token_statement

PID = samples.PRESCRIPTION_ID
# The bundled DejaVu Sans draws every letter of the name: it prints exactly as entered.
PRINTED_PATIENT_NAME = samples.PATIENT_NAME
assert PRINTED_PATIENT_NAME == "Zoë O'Brien-Łukasz"
NAMES_OUTSIDE_CP1252 = ["Zoë O'Brien-Łukasz", "Ольга Смирнова"]


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text with whitespace runs made single spaces (wrapped lines join up again)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def text_of(pdf: bytes) -> str:
    return " ".join(page_texts(pdf))


def page_size_mm(pdf: bytes, page: int = 0) -> tuple[float, float]:
    box = PdfReader(io.BytesIO(pdf)).pages[page].mediabox
    return float(box.width) / mm, float(box.height) / mm


def scanned(pdf: bytes, scale: float) -> dict[str, str]:
    """Barcode format name → decoded text, for the first page rendered at ``scale`` × 72 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    return {result.format.name: result.text for result in zxingcpp.read_barcodes(image)}


def assert_both_barcodes_carry_the_id(pdf: bytes, scale: float) -> None:
    assert scanned(pdf, scale) == {"Code128": PID, "QRCode": PID}


# Receipt


def test_receipt_is_80_mm_wide_with_every_particular() -> None:
    pdf = render_receipt(samples.receipt())
    width, height = page_size_mm(pdf)
    assert width == pytest.approx(80, abs=0.01)
    assert 80 < height < 250  # fitted to the content, not a full page
    text = text_of(pdf)
    for expected in (
        "Riverside Pharmacy",
        "14 High Street, Ancoats, Manchester, M4 6DE",
        "Tel 0161 496 0123",
        PRINTED_PATIENT_NAME,
        "Amoxicillin 500mg capsules",
        "21 capsules",
        # The description wraps in what its quantity leaves free: "solution" goes on the next line.
        "Morphine sulfate 10mg/5ml oral 200 ml solution",
        "Owing, to collect 100 ml",
        "100 tablets",
        "Tomás Ó Briain",
        "24 Nov 2026 14:05",
        PID,
    ):
        assert expected in text


def test_receipt_barcodes_scan_to_the_prescription_id() -> None:
    assert_both_barcodes_carry_the_id(render_receipt(samples.receipt()), scale=4)


def test_receipt_grows_with_its_items() -> None:
    receipt = samples.receipt()
    longer = dataclasses.replace(receipt, items=receipt.items * 4)
    assert page_size_mm(render_receipt(longer))[1] > page_size_mm(render_receipt(receipt))[1]


# Dispensing label


def test_label_has_every_particular_on_one_70_by_35_mm_page() -> None:
    pdf = render_label(samples.label())
    assert len(page_texts(pdf)) == 1
    assert page_size_mm(pdf) == pytest.approx((70, 35), abs=0.01)
    text = text_of(pdf)
    assert "Keep out of the sight and reach of children" in text
    for expected in (
        PRINTED_PATIENT_NAME,
        "Amoxicillin 500mg capsules",
        "21 capsules",
        "Take ONE capsule THREE times a day at regular intervals. Complete the course.",
        "Space the doses evenly throughout the day.",
        "24 Nov 2026",
        "Riverside Pharmacy, 14 High Street, Ancoats, Manchester, M4 6DE",
    ):
        assert expected in text


def test_long_directions_shrink_and_wrap_without_losing_a_word() -> None:
    directions = "Dissolve ONE tablet in a glass of water and take TWICE a day after food. " * 3
    text = text_of(render_label(samples.label(directions)))
    assert " ".join(directions.split()) in text
    assert KEEP_OUT_OF_REACH in text


def test_directions_too_long_for_the_label_raise() -> None:
    with pytest.raises(ValueError, match=r"does not fit on a 70 × 35 mm label even at 6 pt"):
        render_label(samples.label("Take one tablet each morning with plenty of water. " * 12))


def test_an_unbreakable_word_wraps_inside_the_label() -> None:
    text = text_of(render_label(samples.label("Apply " + "x" * 90 + " daily")))
    assert "Apply" in text and "daily" in text
    assert text.count("x") >= 90


def test_a_label_needs_a_patient_name() -> None:
    with pytest.raises(ValueError, match="patient name is empty"):
        dataclasses.replace(samples.label(), patient_name="  ")


# Prescription


@pytest.mark.parametrize(("page_size", "expected_mm"), [("A5", (148, 210)), ("A4", (210, 297))])
def test_prescription_has_every_particular(page_size: PageSize, expected_mm: tuple[int, int]) -> None:
    pdf = render_prescription(samples.prescription(), page_size)
    assert page_size_mm(pdf) == pytest.approx(expected_mm, abs=0.5)
    text = text_of(pdf)
    for expected in (
        "Canal Street Medical Practice",
        "2 Canal Street, Manchester, M1 3HE",
        "Dr Aisha Patel",
        "General Practitioner",
        "GMC 7123456",
        PRINTED_PATIENT_NAME,
        "Date of birth: 03 Feb 1961",
        "NHS number: 943 476 5919",
        "Flat 3, 27 Great Ancoats Street",
        "M4 5AB",
        "1. Amoxicillin 500mg capsules",
        "Strength: 500mg",
        "Form: capsule",
        "Dose: One capsule three times a day",
        "Directions: Take at regular intervals and complete the course.",
        "Quantity: 21 capsules",
        "Supply: 7 days",
        "3. Paracetamol 500mg tablets",
        "Date signed: 24 Nov 2026",
        "Valid until: 21 Dec 2026",
        PID,
        "Page 1 of 1",
    ):
        assert expected in text
    assert "Repeat issue" not in text


def test_schedule_2_item_shows_every_controlled_drug_particular() -> None:
    text = text_of(render_prescription(samples.prescription(samples.MORPHINE)))
    for expected in (
        "Morphine sulfate 10mg/5ml oral solution",
        "CD Sch 2",
        "Strength: 10mg/5ml",
        "Form: oral solution",
        "Dose: 2.5ml to 5ml every four hours when required for pain",
        "Total quantity: 300 (three hundred) ml",
        PRINTED_PATIENT_NAME,
        "Flat 3, 27 Great Ancoats Street, Manchester, M4 5AB",
        "Dr Aisha Patel",
        "GMC 7123456",
    ):
        assert expected in text


def test_quantity_in_words_as_written_by_the_prescriber_is_kept() -> None:
    item = dataclasses.replace(samples.MORPHINE, quantity=Decimal("120"), quantity_in_words="one hundred twenty")
    assert "Total quantity: 120 (one hundred twenty) ml" in text_of(render_prescription(samples.prescription(item)))


def test_schedule_4_item_has_its_marker_but_no_words() -> None:
    diazepam = PrescribedItem(
        "Diazepam 2mg tablets", "2mg", "tablet", "One tablet at night", 14, "tablets", cd_schedule=4
    )
    text = text_of(render_prescription(samples.prescription(diazepam)))
    assert "CD Sch 4" in text
    assert "Quantity: 14 tablets" in text
    assert "fourteen" not in text


@pytest.mark.parametrize("page_size", ["A5", "A4"])
def test_prescription_barcodes_scan_to_the_prescription_id(page_size: PageSize) -> None:
    assert_both_barcodes_carry_the_id(render_prescription(samples.prescription(), page_size), scale=3)


def test_repeat_issue_is_printed() -> None:
    pdf = render_prescription(samples.prescription(samples.AMOXICILLIN, repeat=RepeatIssue(2, 6)))
    assert "Repeat issue 2 of 6" in text_of(pdf)


def test_many_items_continue_on_numbered_pages_naming_the_patient() -> None:
    pages = page_texts(render_prescription(samples.prescription(*[samples.PARACETAMOL] * 9)))
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert f"Prescription {PID} for {PRINTED_PATIENT_NAME}, born 03 Feb 1961" in page
    assert "9. Paracetamol 500mg tablets" in pages[-1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dose": ""}, "dose must be written"),
        ({"dose": "As directed."}, "'as directed' alone is not allowed"),
        ({"strength": " "}, "strength must be written"),
        ({"form": ""}, "form must be written"),
    ],
)
def test_schedule_2_item_missing_a_particular_is_refused(change: dict[str, str], message: str) -> None:
    item = dataclasses.replace(samples.MORPHINE, **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        render_prescription(samples.prescription(item))


def test_schedule_2_on_repeat_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be prescribed on repeat"):
        samples.prescription(samples.MORPHINE, repeat=RepeatIssue(1, 3))


def test_bad_prescription_input_is_refused() -> None:
    with pytest.raises(ValueError, match="patient name is empty"):
        dataclasses.replace(samples.PATIENT, name="")
    with pytest.raises(ValueError, match="not an NHS number"):
        dataclasses.replace(samples.PATIENT, nhs_number="12345")
    with pytest.raises(ValueError, match="not a prescription id"):
        dataclasses.replace(samples.prescription(), prescription_id="0190F3A2-B4C8")
    with pytest.raises(ValueError, match="more than zero"):
        dataclasses.replace(samples.AMOXICILLIN, quantity=0)
    with pytest.raises(ValueError, match="A5 or A4"):
        render_prescription(samples.prescription(), "Letter")  # type: ignore[arg-type]


# Controlled drugs register


def test_cd_register_paginates_with_headings_on_every_page() -> None:
    register = samples.cd_register(120)
    pdf = render_cd_register(register)
    pages = page_texts(pdf)
    assert page_size_mm(pdf) == pytest.approx((297, 210), abs=0.5)  # A4 landscape
    assert len(pages) >= 4
    for number, page in enumerate(pages, start=1):
        assert "CONTROLLED DRUGS REGISTER" in page
        assert "Morphine sulfate 10mg/5ml oral solution" in page
        assert "Strength: 10mg/5ml · Form: oral solution · Quantities in ml" in page
        assert "Date and time Entry Received from / supplied to (name and address)" in page
        assert "Balance Entered by" in page
        assert f"Page {number} of {len(pages)}" in page
    text = " ".join(pages)
    times = re.findall(r"\d\d [A-Z][a-z]{2} 2026 \d\d:\d\d", text)
    assert len(times) == len(set(times)) == 120  # every entry printed once, none lost at a page break
    last = register.entries[-1]
    assert f"{format_quantity(last.balance)} Tomás Ó Briain" in pages[-1]
    assert "Correction" in text and "Spillage while measuring" in text and "+1000" in text


def test_empty_cd_register_still_prints_its_header() -> None:
    text = text_of(render_cd_register(samples.cd_register(0)))
    assert "No entries recorded." in text and "Page 1 of 1" in text


# Token statement


def test_token_statement_balances_and_pages() -> None:
    statement = samples.token_statement(60)
    pages = page_texts(render_token_statement(statement))
    assert len(pages) >= 2
    text = " ".join(pages)
    assert "Account: Canal Street Medical Practice: shared pool" in text
    assert "Period: 01 Nov 2026 to 28 Nov 2026" in text
    assert f"Opening balance: 250 tokens Closing balance: {statement.closing_balance} tokens" in text
    assert f"Closing balance {statement.closing_balance}" in pages[-1]
    assert "Top-up: 500 tokens for £45.00 (card ending 4242) +500 750" in text
    assert "× 1 token" in text
    for number, page in enumerate(pages, start=1):
        assert "Date and time Type Description Tokens Balance" in page
        assert f"Page {number} of {len(pages)}" in page


def test_token_statement_that_does_not_add_up_is_refused() -> None:
    statement = samples.token_statement(5)
    with pytest.raises(ValueError, match="closing balance should be"):
        TokenStatement(
            statement.account_name,
            statement.period_start,
            statement.period_end,
            statement.opening_balance,
            statement.entries,
            statement.closing_balance + 1,
        )


# Text: names print exactly in the bundled font; what it cannot draw becomes "?"


def font_names(pdf: bytes) -> set[str]:
    """The base font names of every page's font resources (a subset's name ends in its font's name)."""
    names = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for font in cast(DictionaryObject, resources["/Font"].get_object()).values():
            names.add(str(font.get_object()["/BaseFont"]).lstrip("/").split("+")[-1])
    return names


def patient_named(name: str) -> PatientDetails:
    return dataclasses.replace(samples.PATIENT, name=name)


@pytest.mark.parametrize("name", NAMES_OUTSIDE_CP1252)
def test_a_name_outside_cp1252_prints_exactly_on_the_label(name: str) -> None:
    assert printable(name) == name
    text = text_of(render_label(dataclasses.replace(samples.label(), patient_name=name)))
    assert name in text


@pytest.mark.parametrize("name", NAMES_OUTSIDE_CP1252)
def test_a_name_outside_cp1252_prints_exactly_on_the_receipt(name: str) -> None:
    text = text_of(render_receipt(dataclasses.replace(samples.receipt(), patient_name=name)))
    assert name in text


@pytest.mark.parametrize("name", NAMES_OUTSIDE_CP1252)
def test_a_name_outside_cp1252_prints_exactly_on_the_prescription(name: str) -> None:
    prescription = dataclasses.replace(samples.prescription(), patient=patient_named(name))
    text = text_of(render_prescription(prescription))
    assert f"PATIENT {name} Date of birth" in text
    assert f"Prescription {PID} for {name}, born 03 Feb 1961" in text  # the footer, drawn on the canvas


def test_a_long_footer_wraps_clear_of_the_page_number() -> None:
    name = "Ольга Александровна Смирнова-Кузнецова"
    pdf = render_prescription(dataclasses.replace(samples.prescription(), patient=patient_named(name)))
    assert f"Prescription {PID} for {name}, born 03 Feb 1961 Page 1 of 1" in text_of(pdf)
    document = pypdfium2.PdfDocument(pdf)
    try:
        text_page = document[0].get_textpage()
        text = text_page.get_text_range()
        footer, page = text.index(f"Prescription {PID} for"), text.index("Page 1 of 1")
        footer_right = max(text_page.get_charbox(i)[2] for i in range(footer, page) if not text[i].isspace())
        page_left = text_page.get_charbox(page)[0]
    finally:
        document.close()
    assert footer_right < page_left


def test_documents_embed_the_bundled_fonts() -> None:
    bundled = {"DejaVuSans", "DejaVuSans-Bold"}
    # Helvetica is only the canvas's initial font, never drawn with; the prescription id stays in the standard
    # Courier: hex digits need no embedded font.
    assert font_names(render_label(samples.label())) - bundled <= {"Helvetica"}
    assert font_names(render_receipt(samples.receipt())) - bundled <= {"Helvetica", "Courier"}
    for pdf in (render_label(samples.label()), render_prescription(samples.prescription())):
        assert bundled <= font_names(pdf)


def test_fonts_are_registered_once() -> None:
    assert register_fonts() is register_fonts()
    assert ord("Ł") in register_fonts() and ord("Ж") in register_fonts()
    assert FONT == "DejaVuSans" and BOLD == "DejaVuSans-Bold"


def test_characters_the_font_cannot_draw_are_folded_not_fatal() -> None:
    assert printable("Śmigielska  £5 × 2 ≤ 3\n") == "Śmigielska £5 × 2 ≤ 3"
    assert printable("李小龍 🙂") == "??? ?"
    assert printable("Zoë 🙂") == "Zoë ?"
    assert printable("㎎ 𝐀") == "mg A"  # compatibility forms become the letters they stand for
    assert printable("Zoe\u0308") == "Zoë"  # a letter and a combining accent print as the one letter
    assert printable("a\u200db\x07c\ufe0f") == "abc"  # format, control and variation selector: nothing
    label = DispensingLabel(
        organisation=samples.PHARMACY,
        patient_name="李小龍 Jürgen Łódź 🙂",
        medicine="Ibuprofen 200mg tablets",
        directions="Take 1–2 tablets < 3 times a day & with food",
        quantity="24 tablets",
        dispensed_on=date(2026, 11, 24),
    )
    text = text_of(render_label(label))
    assert "??? Jürgen Łódź ?" in text
    assert "Take 1–2 tablets < 3 times a day & with food" in text


def test_splitting_text_into_font_subsets_matches_reportlab() -> None:
    """The shared font's quick lookup of characters it has already assigned gives ReportLab's own answer."""

    class Document:  # a stand-in: each document keeps its own subset state
        pass

    font = pdfmetrics.getFont(FONT)
    quick, plain = Document(), Document()
    cyrillic = [chr(code) for code in range(0x400, 0x530)]  # more than one subset's 256 codes, with the rest
    texts = ["Zoë O'Brien-Łukasz", "Ольга Смирнова", "Zoë", "", "a\xa0b", "李 ?", *cyrillic]
    for text in texts * 2:  # the second time round, every character has its code
        assert font.splitString(text, quick) == TTFont.splitString(font, text, plain)


def test_documents_render_on_several_threads_at_once() -> None:
    """The shared fonts are subset per document: concurrent renders give the same bytes as one at a time."""
    renders: list[Callable[[], bytes]] = [
        lambda: render_label(samples.label()),
        lambda: render_receipt(dataclasses.replace(samples.receipt(), patient_name="Ольга Смирнова")),
        lambda: render_prescription(samples.prescription()),
    ] * 4
    expected = [render() for render in renders]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(lambda render: render(), renders)) == expected


def test_markup_characters_in_text_are_printed_literally() -> None:
    item = dataclasses.replace(samples.PARACETAMOL, directions="<b>Max</b> 8 in 24 hours & no more")
    assert "<b>Max</b> 8 in 24 hours & no more" in text_of(render_prescription(samples.prescription(item)))


def test_wrap_breaks_a_word_wider_than_the_line() -> None:
    lines = wrap("a " + "m" * 40, "Helvetica", 10, 60)
    assert lines[0] == "a"
    assert "".join(lines[1:]) == "m" * 40


def test_rendering_is_deterministic() -> None:
    assert render_receipt(samples.receipt()) == render_receipt(samples.receipt())
    assert render_prescription(samples.prescription()) == render_prescription(samples.prescription())


def test_patient_details_reject_an_empty_address() -> None:
    with pytest.raises(ValueError, match="address of patient"):
        PatientDetails("A Patient", date(1990, 1, 1), None, ("  ",), None)
