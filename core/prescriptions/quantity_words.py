"""Total quantity in words, as Schedule 2 and 3 prescriptions require (DESIGN.md §5)."""

from __future__ import annotations

from decimal import Decimal

from num2words import num2words


def quantity_in_words(quantity: Decimal, unit: str) -> str:
    words = str(num2words(quantity, lang="en_GB")) if quantity != quantity.to_integral() else None
    if words is None:
        words = str(num2words(int(quantity), lang="en_GB"))
    # Abbreviated measures (ml, mg, g) take no plural; words (tablet, capsule, ampoule) do.
    plural = unit if quantity == 1 or unit.endswith("s") or len(unit) <= 2 or not unit.isalpha() else f"{unit}s"
    return f"{words} ({format(quantity.normalize(), 'f')}) {plural}"


def words_match(words: str | None, quantity: Decimal, unit: str) -> bool:
    if not words:
        return False
    expected = quantity_in_words(quantity, unit).split(" (")[0]
    return " ".join(words.lower().replace("-", " ").split()).startswith(" ".join(expected.replace("-", " ").split()))
