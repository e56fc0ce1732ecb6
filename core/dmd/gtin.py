"""GS1 GTIN check-digit validation for barcodes typed or scanned at the counter."""

from __future__ import annotations

from core.dmd.errors import InvalidGtinError


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit for the digits before it (weights 3,1,3,… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def validate_gtin(code: str) -> str:
    """Return the GTIN as 14 digits, or raise InvalidGtinError with a clear message."""
    digits = code.strip()
    if not digits.isdigit() or not digits.isascii():
        raise InvalidGtinError(f"{code!r} is not a barcode number: a GTIN has only digits.")
    if len(digits) not in (13, 14):
        raise InvalidGtinError(f"{code!r} has {len(digits)} digits; a pack barcode (GTIN) has 13 or 14.")
    if gtin_check_digit(digits[:-1]) != int(digits[-1]):
        raise InvalidGtinError(f"{code!r} is not a valid GTIN: its check digit is wrong (misread barcode?).")
    return digits.zfill(14)
