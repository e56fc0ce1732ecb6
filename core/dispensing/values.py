"""Quantities and dates at the counter: parsed strictly, shown the UK way (dd/mm/yyyy, no trailing zeros)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from core.errors import ValidationError

MAX_QUANTITY = Decimal(100000)


def parse_quantity(value: Decimal | int | str, what: str = "quantity") -> Decimal:
    """A positive quantity with at most 3 decimal places (2.5 ml), or ValidationError."""
    try:
        quantity = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{value!r} is not a {what}.") from None
    if not quantity.is_finite() or quantity <= 0:
        raise ValidationError(f"The {what} must be more than 0.")
    if quantity > MAX_QUANTITY:
        raise ValidationError(f"The {what} must be at most {MAX_QUANTITY}.")
    if int(quantity.as_tuple().exponent) < -3:
        raise ValidationError(f"Give the {what} to at most 3 decimal places.")
    return quantity


def qty(value: Decimal) -> str:
    return format(value.normalize(), "f")


def uk_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")
