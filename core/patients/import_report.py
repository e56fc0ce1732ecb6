"""The row-by-row report of a patients CSV import: what was imported, skipped as a duplicate, or rejected and why."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class RowOutcome(StrEnum):
    IMPORTED = "imported"
    DUPLICATE = "duplicate"  # the same NHS number is on file, or earlier in the file
    POSSIBLE_DUPLICATE = "possible duplicate"  # the same name and date of birth
    REJECTED = "rejected"  # the row is invalid: the message says why


@dataclass(frozen=True)
class ImportRow:
    line: int  # the line of the file where the row starts (the header is line 1 when it is the first line)
    outcome: RowOutcome
    message: str
    name: str = ""
    patient_id: str | None = None  # the patient created, or the one on file it duplicates


@dataclass
class ImportReport:
    source: Path
    encoding: str
    delimiter: str
    columns: dict[str, str]  # field → the header(s) it was read from
    rows: list[ImportRow] = field(default_factory=list)

    def count(self, outcome: RowOutcome) -> int:
        return sum(1 for r in self.rows if r.outcome is outcome)

    @property
    def imported(self) -> int:
        return self.count(RowOutcome.IMPORTED)

    @property
    def duplicates(self) -> int:
        return self.count(RowOutcome.DUPLICATE)

    @property
    def possible_duplicates(self) -> int:
        return self.count(RowOutcome.POSSIBLE_DUPLICATE)

    @property
    def rejected(self) -> int:
        return self.count(RowOutcome.REJECTED)

    @property
    def skipped(self) -> int:
        return self.duplicates + self.possible_duplicates

    def rows_with(self, outcome: RowOutcome) -> list[ImportRow]:
        return [r for r in self.rows if r.outcome is outcome]

    def write_csv(self, path: Path) -> None:
        """The report as CSV (UTF-8 with a BOM, so Excel reads accents): line, outcome, name, patient id, message."""
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "outcome", "name", "patient_id", "message"])
            for r in self.rows:
                writer.writerow(
                    [r.line, r.outcome.value, _safe_cell(r.name), r.patient_id or "", _safe_cell(r.message)]
                )


def _safe_cell(text: str) -> str:
    """Text from the imported file must not run as a formula when the report is opened in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- column mapping --------------------------------------------------------------------------------------
