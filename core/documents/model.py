"""What the printable documents show: plain frozen values, independent of the database.

Each value checks what would otherwise print as a blank or wrong particular, so a bad record fails with a
clear ValueError when it is mapped, not as a broken sheet of paper at the counter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

Quantity: TypeAlias = Decimal | int

# Client-generated UUIDv7 in 32 lowercase hex characters (DESIGN.md section 3).
PRESCRIPTION_ID = re.compile(r"[0-9a-f]{32}")


def require_text(value: str, what: str) -> None:
    if not value.strip():
        raise ValueError(f"The {what} is empty.")


def require_prescription_id(value: str) -> None:
    if not PRESCRIPTION_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a prescription id: expected 32 lowercase hexadecimal characters.")


@dataclass(frozen=True)
class OrganisationDetails:
    """The clinic or pharmacy the document comes from."""

    name: str
    address_lines: tuple[str, ...]
    postcode: str
    phone: str

    def __post_init__(self) -> None:
        require_text(self.name, "organisation name")
        if not any(line.strip() for line in self.address_lines):
            raise ValueError(f"The address of {self.name} is empty.")
        require_text(self.postcode, "organisation postcode")


@dataclass(frozen=True)
class PatientDetails:
    name: str
    date_of_birth: date
    nhs_number: str | None
    address_lines: tuple[str, ...]
    postcode: str | None  # None for "no fixed abode", written as an address line

    def __post_init__(self) -> None:
        require_text(self.name, "patient name")
        if not any(line.strip() for line in self.address_lines):
            raise ValueError(f"The address of patient {self.name} is empty.")
        if self.nhs_number is not None and not re.fullmatch(r"\d{10}", self.nhs_number.replace(" ", "")):
            raise ValueError(f"{self.nhs_number!r} is not an NHS number: it has 10 digits.")


@dataclass(frozen=True)
class PrescriberDetails:
    name: str
    profession: str  # "General Practitioner", "Nurse Independent Prescriber", "Dentist"
    registration: str  # body and number, e.g. "GMC 1234567"

    def __post_init__(self) -> None:
        require_text(self.name, "prescriber name")
        require_text(self.profession, "prescriber profession")
        require_text(self.registration, "prescriber registration")


@dataclass(frozen=True)
class PrescribedItem:
    """One item as prescribed (the prescription's snapshot, not the current catalogue)."""

    name: str  # e.g. "Morphine sulfate 10mg/5ml oral solution"
    strength: str  # e.g. "10mg/5ml"
    form: str  # e.g. "oral solution"
    dose: str  # e.g. "2.5ml every four hours when required for pain"
    quantity: Quantity
    unit: str  # as printed after the quantity, e.g. "ml", "tablets"
    directions: str = ""  # further instructions to the patient, if any
    quantity_in_words: str | None = None  # derived from the quantity when None
    cd_schedule: int | None = None  # 1-5; None or 0 when not a controlled drug
    days_supply: int | None = None

    def __post_init__(self) -> None:
        require_text(self.name, "item name")
        require_text(self.unit, f"unit of {self.name}")
        if self.quantity <= 0:
            raise ValueError(f"The quantity of {self.name} must be more than zero, not {self.quantity}.")
        if self.cd_schedule is not None and not 0 <= self.cd_schedule <= 5:
            raise ValueError(f"{self.cd_schedule} is not a controlled drug schedule (0-5) for {self.name}.")
        if self.days_supply is not None and self.days_supply <= 0:
            raise ValueError(f"The days' supply of {self.name} must be more than zero.")

    @property
    def is_schedule_2_or_3(self) -> bool:
        """Schedule 2 and 3 prescriptions carry the extra particulars of DESIGN.md section 5."""
        return self.cd_schedule in (2, 3)


@dataclass(frozen=True)
class RepeatIssue:
    number: int
    total: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= self.total:
            raise ValueError(f"Repeat issue {self.number} of {self.total} is impossible.")


@dataclass(frozen=True)
class PrescriptionDocument:
    organisation: OrganisationDetails
    prescriber: PrescriberDetails
    patient: PatientDetails
    items: tuple[PrescribedItem, ...]
    prescription_id: str
    signed_at: datetime
    valid_until: date  # the last day any item may be supplied
    repeat: RepeatIssue | None = None
    cd_valid_until: date | None = None  # earlier last day of its Schedule 2-4 items (28 days), when it has some
    not_before: date | None = None  # a start date later than the signing date (post-dated, later repeat issues)
    stamp: str | None = None  # printed across every page: "COPY", "CANCELLED", "EXPIRED", "DISPENSED"

    def __post_init__(self) -> None:
        require_prescription_id(self.prescription_id)
        if not self.items:
            raise ValueError("A prescription needs at least one item.")
        if self.valid_until < self.signed_at.date():
            raise ValueError("The prescription's valid-until date is before the date it was signed.")
        if self.repeat is not None and any(item.is_schedule_2_or_3 for item in self.items):
            raise ValueError("Schedule 2 and 3 controlled drugs cannot be prescribed on repeat.")


@dataclass(frozen=True)
class DispensedLine:
    description: str  # e.g. "Amoxicillin 500mg capsules"
    quantity: Quantity  # supplied now
    unit: str
    owing: Quantity = 0  # still to be supplied (an owing)

    def __post_init__(self) -> None:
        require_text(self.description, "dispensed item description")
        if self.quantity < 0 or self.owing < 0 or self.quantity + self.owing == 0:
            raise ValueError(f"Nothing supplied or owed for {self.description}.")


@dataclass(frozen=True)
class ReceiptDocument:
    organisation: OrganisationDetails
    patient_name: str
    items: tuple[DispensedLine, ...]
    pharmacist_name: str
    dispensed_at: datetime
    prescription_id: str

    def __post_init__(self) -> None:
        require_text(self.patient_name, "patient name")
        require_text(self.pharmacist_name, "pharmacist name")
        require_prescription_id(self.prescription_id)
        if not self.items:
            raise ValueError("A receipt needs at least one dispensed item.")


@dataclass(frozen=True)
class DispensingLabel:
    organisation: OrganisationDetails
    patient_name: str
    medicine: str  # e.g. "Amoxicillin 500mg capsules"
    directions: str
    quantity: str  # as printed, e.g. "21 capsules"
    dispensed_on: date
    cautions: tuple[str, ...] = ()  # BNF cautionary and advisory wording, e.g. "Do not drink alcohol"

    def __post_init__(self) -> None:
        require_text(self.patient_name, "patient name")
        require_text(self.medicine, "medicine")
        require_text(self.directions, "directions")
        require_text(self.quantity, "quantity")


class CdEntryKind(StrEnum):
    RECEIPT = "receipt"
    SUPPLY = "supply"
    CORRECTION = "correction"


@dataclass(frozen=True)
class CdRegisterEntry:
    """One line of a controlled drugs register; entries are never edited, only corrected by new entries."""

    recorded_at: datetime
    kind: CdEntryKind
    counterparty: str  # supplier (receipt) or patient (supply): name and address
    prescriber: str | None  # name and address of the prescriber, for supplies
    quantity: Quantity  # signed: received > 0, supplied < 0, a correction either way
    balance: Quantity  # running balance after this entry
    entered_by: str
    reference: str = ""  # invoice or prescription number, or the reason for a correction

    def __post_init__(self) -> None:
        require_text(self.entered_by, "person who made the register entry")
        if self.kind is CdEntryKind.RECEIPT and self.quantity <= 0:
            raise ValueError("A controlled drug receipt must have a positive quantity.")
        if self.kind is CdEntryKind.SUPPLY and self.quantity >= 0:
            raise ValueError("A controlled drug supply must have a negative quantity.")
        if self.kind is CdEntryKind.CORRECTION:
            require_text(self.reference, "reason for the register correction")
        else:
            require_text(self.counterparty, f"{self.kind} name and address")


@dataclass(frozen=True)
class CdRegister:
    """The register of one drug (one name, strength and form), as printed for inspection."""

    organisation: OrganisationDetails
    drug_name: str
    strength: str
    form: str
    unit: str  # what quantities count, e.g. "ml", "tablets"
    entries: tuple[CdRegisterEntry, ...]

    def __post_init__(self) -> None:
        require_text(self.drug_name, "controlled drug name")
        require_text(self.strength, "controlled drug strength")
        require_text(self.form, "controlled drug form")
        require_text(self.unit, "controlled drug unit")


class TokenEntryKind(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"
    CORRECTION = "correction"


@dataclass(frozen=True)
class TokenStatementEntry:
    at: datetime
    kind: TokenEntryKind
    amount: int  # signed: credits > 0, debits < 0
    description: str
    balance: int  # running balance after this entry

    def __post_init__(self) -> None:
        if self.kind is TokenEntryKind.CREDIT and self.amount <= 0:
            raise ValueError("A token credit must have a positive amount.")
        if self.kind is TokenEntryKind.DEBIT and self.amount >= 0:
            raise ValueError("A token debit must have a negative amount.")


@dataclass(frozen=True)
class TokenStatement:
    account_name: str
    period_start: date
    period_end: date
    opening_balance: int
    entries: tuple[TokenStatementEntry, ...]
    closing_balance: int

    def __post_init__(self) -> None:
        require_text(self.account_name, "token account name")
        if self.period_end < self.period_start:
            raise ValueError("The statement period ends before it starts.")
        # The statement is derived from the ledger: figures that do not add up mean a bug upstream.
        balance = self.opening_balance
        for entry in self.entries:
            if not self.period_start <= entry.at.date() <= self.period_end:
                raise ValueError(f"A token entry of {entry.at:%Y-%m-%d} is outside the statement period.")
            balance += entry.amount
            if entry.balance != balance:
                raise ValueError(f"The running balance after {entry.description!r} should be {balance}.")
        if balance != self.closing_balance:
            raise ValueError(f"The closing balance should be {balance}, not {self.closing_balance}.")
