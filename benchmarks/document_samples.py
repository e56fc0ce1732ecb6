"""Sample documents for the document tests and the rendering benchmark: realistic, with awkward characters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from core.documents.model import (
    CdEntryKind,
    CdRegister,
    CdRegisterEntry,
    DispensedLine,
    DispensingLabel,
    OrganisationDetails,
    PatientDetails,
    PrescribedItem,
    PrescriberDetails,
    PrescriptionDocument,
    ReceiptDocument,
    RepeatIssue,
    TokenEntryKind,
    TokenStatement,
    TokenStatementEntry,
)

PRESCRIPTION_ID = "0190f3a2b4c87d5e9a1b2c3d4e5f6789"
PATIENT_NAME = "Zoë O'Brien-Łukasz"

PHARMACY = OrganisationDetails(
    name="Riverside Pharmacy",
    address_lines=("14 High Street", "Ancoats", "Manchester"),
    postcode="M4 6DE",
    phone="0161 496 0123",
)
SURGERY = OrganisationDetails(
    name="Canal Street Medical Practice",
    address_lines=("2 Canal Street", "Manchester"),
    postcode="M1 3HE",
    phone="0161 496 0456",
)
PATIENT = PatientDetails(
    name=PATIENT_NAME,
    date_of_birth=date(1961, 2, 3),
    nhs_number="9434765919",
    address_lines=("Flat 3, 27 Great Ancoats Street", "Manchester"),
    postcode="M4 5AB",
)
PRESCRIBER = PrescriberDetails(name="Dr Aisha Patel", profession="General Practitioner", registration="GMC 7123456")

AMOXICILLIN = PrescribedItem(
    name="Amoxicillin 500mg capsules",
    strength="500mg",
    form="capsule",
    dose="One capsule three times a day",
    quantity=21,
    unit="capsules",
    directions="Take at regular intervals and complete the course.",
    days_supply=7,
)
MORPHINE = PrescribedItem(
    name="Morphine sulfate 10mg/5ml oral solution",
    strength="10mg/5ml",
    form="oral solution",
    dose="2.5ml to 5ml every four hours when required for pain",
    quantity=300,
    unit="ml",
    cd_schedule=2,
    days_supply=10,
)
PARACETAMOL = PrescribedItem(
    name="Paracetamol 500mg tablets",
    strength="500mg",
    form="tablet",
    dose="Two tablets up to four times a day",
    quantity=100,
    unit="tablets",
    directions="Leave at least 4 hours between doses. Do not take more than 8 tablets in 24 hours.",
)


def prescription(*items: PrescribedItem, repeat: RepeatIssue | None = None) -> PrescriptionDocument:
    signed_at = datetime(2026, 11, 24, 10, 42)
    items = items or (AMOXICILLIN, MORPHINE, PARACETAMOL)
    cd = any(item.cd_schedule in (2, 3, 4) for item in items)
    return PrescriptionDocument(
        organisation=SURGERY,
        prescriber=PRESCRIBER,
        patient=PATIENT,
        items=items,
        prescription_id=PRESCRIPTION_ID,
        signed_at=signed_at,
        valid_until=signed_at.date() + timedelta(days=27 if cd else 182),
        repeat=repeat,
    )


def receipt() -> ReceiptDocument:
    return ReceiptDocument(
        organisation=PHARMACY,
        patient_name=PATIENT_NAME,
        items=(
            DispensedLine("Amoxicillin 500mg capsules", 21, "capsules"),
            DispensedLine("Morphine sulfate 10mg/5ml oral solution", 200, "ml", owing=100),
            DispensedLine("Paracetamol 500mg tablets", 100, "tablets"),
        ),
        pharmacist_name="Tomás Ó Briain",
        dispensed_at=datetime(2026, 11, 24, 14, 5),
        prescription_id=PRESCRIPTION_ID,
    )


def label(
    directions: str = "Take ONE capsule THREE times a day at regular intervals. Complete the course.",
) -> DispensingLabel:
    return DispensingLabel(
        organisation=PHARMACY,
        patient_name=PATIENT_NAME,
        medicine="Amoxicillin 500mg capsules",
        directions=directions,
        quantity="21 capsules",
        dispensed_on=date(2026, 11, 24),
        cautions=(
            "Space the doses evenly throughout the day. Keep taking this medicine until the course is finished.",
        ),
    )


def cd_register(entries: int = 120) -> CdRegister:
    lines: list[CdRegisterEntry] = []
    balance = Decimal(0)
    start = datetime(2026, 1, 5, 9, 0)
    for index in range(entries):
        at = start + timedelta(days=index // 3, hours=index % 3 * 2)
        if index % 10 == 0:
            quantity = Decimal(1000)
            kind, counterparty, prescriber, reference = (
                CdEntryKind.RECEIPT,
                "Alliance Healthcare, Unit 7 Trafford Park, Manchester M17 1AB",
                None,
                f"Invoice INV-{40000 + index}",
            )
        elif index % 37 == 5:
            quantity = Decimal("-2.5")
            kind, counterparty, prescriber, reference = (
                CdEntryKind.CORRECTION,
                "",
                None,
                "Spillage while measuring, witnessed by J. Okafor",
            )
        else:
            quantity = Decimal(-(50 + index % 4 * 25))
            kind, counterparty, prescriber, reference = (
                CdEntryKind.SUPPLY,
                f"{PATIENT_NAME if index % 2 else 'Mohammed Al-Rashid'}, 27 Great Ancoats Street, Manchester M4 5AB",
                "Dr Aisha Patel, Canal Street Medical Practice, 2 Canal Street, Manchester M1 3HE",
                f"Rx {PRESCRIPTION_ID[:8]}… collected by patient, ID seen",
            )
        balance += quantity
        lines.append(
            CdRegisterEntry(at, kind, counterparty, prescriber, quantity, balance, "Tomás Ó Briain", reference)
        )
    return CdRegister(
        organisation=PHARMACY,
        drug_name="Morphine sulfate 10mg/5ml oral solution",
        strength="10mg/5ml",
        form="oral solution",
        unit="ml",
        entries=tuple(lines),
    )


def token_statement(entries: int = 60) -> TokenStatement:
    opening = 250
    balance = opening
    lines: list[TokenStatementEntry] = []
    start = datetime(2026, 11, 1, 8, 30)
    for index in range(entries):
        at = start + timedelta(hours=index * 11)
        if index % 20 == 0:
            kind, amount, description = TokenEntryKind.CREDIT, 500, "Top-up: 500 tokens for £45.00 (card ending 4242)"
        elif index % 29 == 7:
            kind, amount, description = TokenEntryKind.CORRECTION, 3, "Refund: prescription cancelled before printing"
        else:
            items = 1 + index % 3
            kind, amount = TokenEntryKind.DEBIT, -(1 + items)
            description = f"Prescription {PRESCRIPTION_ID[:12]}… signed: {items} item(s) × 1 token + 1 CD surcharge"
        balance += amount
        lines.append(TokenStatementEntry(at, kind, amount, description, balance))
    return TokenStatement(
        account_name="Canal Street Medical Practice: shared pool",
        period_start=start.date(),
        period_end=(start + timedelta(hours=entries * 11)).date(),
        opening_balance=opening,
        entries=tuple(lines),
        closing_balance=balance,
    )
