"""Controlled drug schedule of a VMP from its dm+d CONTROL_INFO.CATCD (DESIGN.md section 5)."""

from __future__ import annotations

# CONTROL_DRUG_CATEGORY code -> schedule (0 = not a controlled drug). Codes not listed are reported as unknown,
# never guessed: a new category in a future release must be added here deliberately.
CD_SCHEDULE_BY_CATEGORY: dict[str, int] = {
    "0000": 0,
    "0001": 1,
    "0002": 2,
    "0003": 2,
    "0004": 3,
    "0005": 3,
    "0006": 3,
    "0007": 3,
    "0008": 4,
    "0009": 4,
    "0010": 5,
}


def cd_schedule(category_code: str | None) -> int | None:
    """The schedule (0-5) for a CONTROL_DRUG_CATEGORY code; None when the code is missing or unknown."""
    if category_code is None:
        return None
    return CD_SCHEDULE_BY_CATEGORY.get(category_code)
