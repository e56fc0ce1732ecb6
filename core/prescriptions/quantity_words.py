"""Total quantity in words, as Schedule 2 and 3 prescriptions require (DESIGN.md §5)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from num2words import num2words


def quantity_in_words(quantity: Decimal, unit: str) -> str:
    words = str(num2words(quantity, lang="en_GB")) if quantity != quantity.to_integral() else None
    if words is None:
        words = str(num2words(int(quantity), lang="en_GB"))
    # Abbreviated measures (ml, mg, g) take no plural; words (tablet, capsule, ampoule) do.
    plural = unit if quantity == 1 or unit.endswith("s") or len(unit) <= 2 or not unit.isalpha() else f"{unit}s"
    return f"{words} ({format(quantity.normalize(), 'f')}) {plural}"


def _tokens(text: str) -> list[str]:
    # "and" and hyphens are optional in how people write numbers: "one hundred and twelve", "twenty-eight".
    return [t for t in re.split(r"[\s,\-]+", text.lower()) if t and t != "and"]


def words_match(words: str | None, quantity: Decimal, unit: str) -> bool:
    """Do the words say exactly the quantity? A figure in brackets must be the quantity too; the unit may follow."""
    if not words or not words.strip():
        return False
    text = words.strip()
    for figure in re.findall(r"\(([^)]*)\)", text):
        try:
            if Decimal(figure.strip()) != quantity:
                return False
        except InvalidOperation:
            return False
    number_part = re.sub(r"\([^)]*\)", " ", text)
    expected = _tokens(quantity_in_words(quantity, unit).split(" (")[0])
    typed = _tokens(number_part)
    unit_words = set(_tokens(unit)) | {f"{w}s" for w in _tokens(unit)}
    while typed and typed[-1] in unit_words:
        typed.pop()
    return typed == expected
