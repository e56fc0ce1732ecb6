"""NHS number: 10 digits, modulus 11 check digit (DESIGN.md §5)."""

from __future__ import annotations

from core.errors import ValidationError

_WEIGHTS = range(10, 1, -1)


def nhs_check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when the remainder gives 10 (no valid number has that body)."""
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def normalise_nhs_number(text: str) -> str:
    """Ten digits, spaces and dashes allowed as typed or printed (``943 476 5919``). Raises ValidationError."""
    digits = "".join(ch for ch in text if ch not in " -")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise ValidationError(f"{text.strip() or 'An empty value'} is not an NHS number: it must be 10 digits.")
    check = nhs_check_digit(digits[:9])
    if check is None or check != int(digits[9]):
        raise ValidationError(f"{text.strip()} is not a valid NHS number: the check digit does not match.")
    return digits


def format_nhs_number(digits: str) -> str:
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
