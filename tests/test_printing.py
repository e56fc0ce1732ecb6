"""Printouts from real records: the prescription and the token statement, checked by their extracted text."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader
from sqlalchemy import select

from core.dispensing.cd_register import record_receipt
from core.dispensing.model import SupplyLine
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import InvalidTransition, PermissionDenied
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.lifecycle import cancel_prescription
from core.prescriptions.signing import sign_prescription
from core.printing.cd_register import print_cd_register
from core.printing.dispensing import print_labels, print_receipt
from core.printing.prescription import print_prescription
from core.printing.token_statement import print_token_statement
from core.storage.models import AuditEvent
from core.tokens.ledger import add_credit
from tests.clinic import PRESCRIBER_PIN, Clinic
from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def barcodes_of(pdf: bytes) -> set[str]:
    page = pypdfium2.PdfDocument(pdf)[0]
    return {code.text for code in zxingcpp.read_barcodes(page.render(scale=4).to_pil())}


def test_signed_cd_prescription_prints_with_its_particulars(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    patient = add_patient(clinic, given="Zoe", family="Brennan")
    rx = create_prescription(clinic.prescriber, patient.id)
    vmp = vmp_with_schedule(demo_catalogue, ("0002",))
    add_item(clinic.prescriber, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, None), dose="1 daily",
             directions="One daily", quantity=28)  # fmt: skip
    item = add_item(clinic.prescriber, demo_catalogue, rx.id, vmp, dose="10mg every 12 hours",
                    directions="Take every 12 hours", quantity=56, days_supply=28)  # fmt: skip
    with pytest.raises(InvalidTransition, match="sign it first"):
        print_prescription(clinic.prescriber, rx.id)
    sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    for size in ("A5", "A4"):
        pdf = print_prescription(clinic.prescriber, rx.id, size)  # type: ignore[arg-type]
        text = text_of(pdf)
        for expected in ("Riverside Surgery", "Dr Jane Smith", "GMC 1234567", "Zoe BRENNAN", "3 Park Row",
                         item.product_name.split()[0], "fifty-six", "56", "10mg every 12 hours",
                         "Valid until: 01 Sep 2026", "CD items (Sch 2-4) valid until: 30 Mar 2026"):  # fmt: skip
            assert expected in text, expected
        assert rx.id in barcodes_of(pdf)
    with clinic.database.reader() as session:
        prints = session.execute(select(AuditEvent).where(AuditEvent.action == "prescription.print")).scalars()
        assert len(list(prints)) == 2


def test_token_statement_prints_the_period(clinic: Clinic) -> None:
    account_id = fund_clinic(clinic, 100)
    clinic.clock.advance(days=3)
    add_credit(clinic.admin, account_id, 40, "March top-up")
    today = clinic.clock().date()
    text = text_of(print_token_statement(clinic.admin, account_id, today - timedelta(days=1), today))
    assert "Riverside Surgery" in text and "March top-up" in text and "not yet confirmed" in text
    assert "140" in text
    with pytest.raises(Exception, match="ends before"):
        print_token_statement(clinic.admin, account_id, date(2026, 3, 5), date(2026, 3, 1))


def test_dispensing_prints_receipt_labels_and_the_cd_register(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    patient = add_patient(clinic, given="Ian", family="Murray")
    rx = create_prescription(clinic.prescriber, patient.id)
    cd = add_item(clinic.prescriber, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, ("0002",)),
                  dose="5mg every 12 hours", directions="Take every 12 hours", quantity=28, days_supply=14)  # fmt: skip
    plain = add_item(clinic.prescriber, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, None),
                     dose="1 daily", directions="Take ONE each morning", quantity=30)  # fmt: skip
    sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    record_receipt(clinic.pharmacist, cd.vmp_id, cd.product_name, 100, "Alliance Healthcare, Leeds")
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(cd.id, 28), SupplyLine(plain.id, 20)])
    receipt = print_receipt(clinic.pharmacist, result.dispensing_id)
    text = text_of(receipt)
    for expected in ("Kirkgate Pharmacy", "Ian MURRAY", "Priya Patel", cd.product_name.split()[0]):
        assert expected in text, expected
    assert rx.id in barcodes_of(receipt)
    labels = print_labels(clinic.pharmacist, result.dispensing_id)
    assert len(labels) == 2
    label_text = text_of(labels[1])
    assert "Take ONE each morning" in label_text and "20 " in label_text
    assert "Keep out of the sight and reach of children" in label_text
    register = text_of(print_cd_register(clinic.pharmacist, demo_catalogue, cd.vmp_id))
    assert "Alliance Healthcare" in register and "ian murray" in register.lower() and "72" in register  # 100 - 28
    with pytest.raises(PermissionDenied):
        print_receipt(clinic.technician, result.dispensing_id)


def test_copies_and_dead_prescriptions_are_stamped(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    patient = add_patient(clinic)
    rx = create_prescription(clinic.prescriber, patient.id, not_before=date(2026, 3, 20))
    add_item(clinic.prescriber, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, None), dose="1 daily",
             directions="One daily", quantity=28)  # fmt: skip
    sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    first = text_of(print_prescription(clinic.prescriber, rx.id))
    assert "COPY" not in first and "Not to be dispensed before: 20 Mar 2026" in first
    assert "COPY" in text_of(print_prescription(clinic.prescriber, rx.id))
    cancel_prescription(clinic.prescriber, rx.id, "Patient moved away")
    assert "CANCELLED" in text_of(print_prescription(clinic.prescriber, rx.id))
    with pytest.raises(PermissionDenied):
        print_prescription(clinic.pharmacist, rx.id)


def test_signed_date_is_the_uk_day(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    from datetime import UTC, datetime

    fund_clinic(clinic)
    clinic.clock.current = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 July in London
    patient = add_patient(clinic)
    rx = create_prescription(clinic.prescriber, patient.id)
    add_item(clinic.prescriber, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, None), dose="1 daily",
             directions="One daily", quantity=28)  # fmt: skip
    sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    text = text_of(print_prescription(clinic.prescriber, rx.id))
    assert "Date signed: 02 Jul 2026" in text and "Not to be dispensed before" not in text
