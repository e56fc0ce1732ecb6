"""How dates, quantities and identifiers are written on the documents (fixed English, whatever the locale)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from num2words import num2words

from core.context import UK
from core.documents.model import Quantity

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(value: date) -> str:
    """ "03 Feb 2026": the month as a word, so 03/02 cannot be read the American way."""
    return f"{value.day:02d} {_MONTHS[value.month - 1]} {value.year}"


def format_datetime(value: datetime) -> str:
    return f"{format_date(value)} {value:%H:%M}"


def format_uk_datetime(value: datetime) -> str:
    """A stored (UTC) moment as the UK clock showed it."""
    return format_datetime(value.astimezone(UK))


def format_quantity(value: Quantity) -> str:
    """28, 2.5, 0.25: no exponent and no trailing zeros ("2.50" would invite a misread)."""
    if isinstance(value, int):
        return str(value)
    return format(value.normalize(), "f")


def format_signed(value: Quantity) -> str:
    """+100 / -10 (ASCII minus: the standard fonts have no U+2212)."""
    return f"+{format_quantity(value)}" if value > 0 else format_quantity(value)


def quantity_in_words(value: Quantity) -> str:
    """ "one hundred and twenty", "two point five"."""
    number = int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value
    return str(num2words(number, lang="en"))


def format_nhs_number(value: str) -> str:
    """The NHS number in its usual 3-3-4 grouping."""
    digits = value.replace(" ", "")
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def address_text(address_lines: tuple[str, ...], postcode: str | None) -> str:
    parts = [line.strip() for line in address_lines if line.strip()]
    if postcode:
        parts.append(postcode.strip())
    return ", ".join(parts)
