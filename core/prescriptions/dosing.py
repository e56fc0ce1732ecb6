"""Dose and quantity helpers for the prescription composer: a dose in plain English from an amount and how often,
the total quantity for a number of days, and the pack sizes of a product in its dm+d unit.

They only suggest: what the prescriber finally types is what is prescribed, and the signing rules check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from core.dmd.catalogue import Catalogue


@dataclass(frozen=True)
class Frequency:
    label: str  # as it reads in a dose: "twice a day"
    doses: int  # this many doses every ``days`` days (0: when required, so no total can be worked out)
    days: int = 1


FREQUENCIES: tuple[Frequency, ...] = (
    Frequency("once a day", 1),
    Frequency("twice a day", 2),
    Frequency("three times a day", 3),
    Frequency("four times a day", 4),
    Frequency("in the morning", 1),
    Frequency("at night", 1),
    Frequency("every other day", 1, 2),
    Frequency("once a week", 1, 7),
    Frequency("when required", 0),
)
FREQUENCY_BY_LABEL = {f.label: f for f in FREQUENCIES}

# The verb a label's directions start with, by the dm+d unit of the dose.
_VERBS = {
    "tablet": "Take",
    "capsule": "Take",
    "ml": "Take",
    "sachet": "Take",
    "lozenge": "Suck",
    "pastille": "Suck",
    "dose": "Inhale",
    "puff": "Inhale",
    "patch": "Apply",
    "gram": "Apply",
    "application": "Apply",
    "drop": "Instil",
    "suppository": "Insert",
    "pessary": "Insert",
    "pre-filled syringe": "Inject",
    "ampoule": "Inject",
    "vial": "Inject",
}


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f")


def unit_for(amount: Decimal, unit: str) -> str:
    """``unit`` in the plural when ``amount`` is not one (abbreviations such as ml and mg take no plural)."""
    if amount == 1 or len(unit) <= 2 or unit.endswith("s") or not unit.replace(" ", "").replace("-", "").isalpha():
        return unit
    return f"{unit}s"


def dose_text(amount: Decimal, unit: str, frequency: Frequency) -> str:
    """ "1 tablet twice a day": the dose as the rules read it (it states an amount)."""
    return f"{_amount(amount)} {unit_for(amount, unit)} {frequency.label}"


def directions_text(amount: Decimal, unit: str, frequency: Frequency) -> str:
    """What the label says: "Take 1 tablet twice a day"."""
    verb = _VERBS.get(unit.lower(), "Use")
    return f"{verb} {dose_text(amount, unit, frequency)}"


def total_quantity(amount: Decimal, frequency: Frequency, days: int) -> Decimal | None:
    """The quantity for ``days`` days, rounded up to a whole unit; None when it cannot be worked out."""
    if frequency.doses == 0 or amount <= 0 or days <= 0:
        return None
    # Divided last, so a week of 1/7ths is exactly 1.
    return (amount * frequency.doses * days / frequency.days).to_integral_value(rounding=ROUND_CEILING)


@dataclass(frozen=True)
class PackSize:
    quantity: Decimal
    unit: str

    @property
    def label(self) -> str:
        return f"{_amount(self.quantity)} {unit_for(self.quantity, self.unit)}"


def pack_sizes(catalogue: Catalogue, vmp_id: str) -> list[PackSize]:
    """The distinct pack sizes of a VMP's valid packs (VMPPs), smallest first."""
    rows = catalogue.conn.execute(
        "SELECT DISTINCT qtyval, qty_uomcd FROM vmpp WHERE vpid = ? AND invalid IS NULL AND qtyval > 0 ORDER BY qtyval",
        (int(vmp_id),),
    ).fetchall()
    return [
        PackSize(Decimal(str(qty)).normalize(), catalogue.lookup("UNIT_OF_MEASURE", str(code)) if code else "unit")
        for qty, code in rows
    ]
