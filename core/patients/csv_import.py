"""Import patients from a CSV export (another clinical system, a spreadsheet): every row checked like a new
registration, duplicates skipped, bad rows reported with their line number, good rows imported regardless.

Files as they come: UTF-8 with or without a BOM, UTF-16 with a BOM, or Windows-1252 (Excel's "CSV"); comma,
semicolon or tab delimited (read from the header line); blank lines; quoted cells spanning lines. Columns are found
by their header ("Surname", "Last name", "family_name" ...), case and spacing ignored, or named in a mapping file.

Rows are written in batches of ``BATCH_SIZE``, one transaction each: a batch holds its patients, one audit event and
one outbox row per patient, so every patient has its own audit trail (``audit_trail("patient", id)`` shows how it
came to be) and reaches the server like any other. A row is never half written: a batch commits whole or not at all.
Duplicate checks are done per batch in two indexed queries, against the database and against the rows before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import ValidationError
from core.ids import new_id
from core.outbox import enqueue, row_payload
from core.patients.csv_format import (
    FIELDS,
    ColumnMapping,
    decode_bytes,
    parse_consent,
    parse_date,
    resolve_columns,
    sniff_delimiter,
)
from core.patients.csv_format import records as _records
from core.patients.import_report import ImportReport, ImportRow, RowOutcome
from core.patients.records import (
    DuplicateCandidate,
    FieldError,
    PatientDetails,
    consent_event,
    name_key,
    new_patient_row,
)
from core.storage.models import Patient
from core.users.roles import Permission, require
from core.validation.nhs_number import format_nhs_number

__all__ = [
    "BATCH_SIZE",
    "ColumnMapping",
    "ImportReport",
    "ImportRow",
    "RowOutcome",
    "import_patients_csv",
    "parse_date",
]

BATCH_SIZE = 500


def _details(cells: list[str], columns: dict[str, list[int]]) -> PatientDetails:
    def cell(name: str) -> str | None:
        indexes = columns.get(name)
        if not indexes:
            return None
        if name == "address":
            return "\n".join(cells[i].strip() for i in indexes if cells[i].strip())
        return cells[indexes[0]]

    dob_text = (cell("date_of_birth") or "").strip()
    if not dob_text:
        raise FieldError("date_of_birth", "this is required.")
    values: dict[str, Any] = {name: cell(name) for name in FIELDS if name not in ("date_of_birth", "consent")}
    return PatientDetails(date_of_birth=parse_date(dob_text), consent=parse_consent(cell("consent")), **values)


# -- importing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Valid:
    line: int
    details: PatientDetails

    @property
    def name(self) -> str:
        return f"{self.details.given_name} {self.details.family_name}"

    @property
    def identity(self) -> tuple[str, str, date]:
        return (name_key(self.details.family_name), name_key(self.details.given_name), self.details.date_of_birth)


def import_patients_csv(
    ctx: ServiceContext,
    path: Path,
    mapping: ColumnMapping | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import the patients of a CSV file; returns the per-row report. Raises ValidationError only for what stops
    the whole import (unreadable file, no header, a mapping that does not fit the header)."""
    require(ctx, Permission.IMPORT_PATIENTS)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: the file cannot be read ({exc.strerror or exc}).") from None
    text, encoding = decode_bytes(data)
    delimiter = sniff_delimiter(text)
    records = _records(text, delimiter)
    first = next(records, None)
    if first is None:
        raise ValidationError(f"{path}: the file has no header line and no rows.")
    _, header, error = first
    if header is None:
        raise ValidationError(f"{path}: the header line cannot be read ({error}).")
    columns = resolve_columns(header, mapping)
    report = ImportReport(
        Path(path),
        encoding,
        delimiter,
        {name: " + ".join(header[i] for i in indexes) for name, indexes in columns.items()},
    )
    today = ctx.today()
    valid: list[_Valid] = []
    for line, cells, error in records:
        if cells is None:
            report.rows.append(ImportRow(line, RowOutcome.REJECTED, error or "the row cannot be read."))
            continue
        if len(cells) > len(header) and not any(c.strip() for c in cells[len(header) :]):
            cells = cells[: len(header)]  # trailing empty cells (a spreadsheet's extra delimiters)
        if len(cells) != len(header):
            hint = " (an unclosed quote may have joined lines)" if any("\n" in c for c in cells) else ""
            message = f"the row has {len(cells)} cells but the header has {len(header)}{hint}."
            report.rows.append(ImportRow(line, RowOutcome.REJECTED, message, _row_name(cells, columns)))
            continue
        try:
            details = _details(cells, columns).validated(today)
        except ValidationError as exc:
            report.rows.append(ImportRow(line, RowOutcome.REJECTED, str(exc), _row_name(cells, columns)))
            continue
        valid.append(_Valid(line, details))
    total = len(valid)
    if progress:
        progress(0, total)
    seen_nhs: dict[str, int] = {}
    seen_identity: dict[tuple[str, str, date], int] = {}
    for start in range(0, total, BATCH_SIZE):
        batch = valid[start : start + BATCH_SIZE]
        report.rows.extend(_import_batch(ctx, report.source.name, batch, seen_nhs, seen_identity))
        if progress:
            progress(min(start + BATCH_SIZE, total), total)
    report.rows.sort(key=lambda r: r.line)
    with ctx.database.transaction() as session:
        record_event(
            session,
            ctx,
            "patient.import_file",
            "import",
            new_id(),
            after={
                "file": report.source.name,
                "rows": len(report.rows),
                "imported": report.imported,
                "duplicates": report.duplicates,
                "possible_duplicates": report.possible_duplicates,
                "rejected": report.rejected,
            },
        )
    return report


def _row_name(cells: list[str], columns: dict[str, list[int]]) -> str:
    parts = []
    for name in ("given_name", "family_name"):
        indexes = columns.get(name, [])
        if indexes and indexes[0] < len(cells):
            parts.append(" ".join(cells[indexes[0]].split()))
    return " ".join(p for p in parts if p)


def _import_batch(
    ctx: ServiceContext,
    source: str,
    batch: list[_Valid],
    seen_nhs: dict[str, int],
    seen_identity: dict[tuple[str, str, date], int],
) -> list[ImportRow]:
    """One transaction: duplicate checks for the batch in two queries, then each new patient with its audit event
    and outbox row. The ``seen_*`` maps (rows imported so far) are updated only once the batch is committed."""
    rows: list[ImportRow] = []
    new_nhs: dict[str, int] = {}
    new_identity: dict[tuple[str, str, date], int] = {}
    created: list[tuple[Patient, dict[str, Any]]] = []
    with ctx.database.transaction() as session:
        numbers = [v.details.nhs_number for v in batch if v.details.nhs_number]
        on_file_nhs = {
            p.nhs_number: p for p in session.execute(select(Patient).where(Patient.nhs_number.in_(numbers))).scalars()
        }
        on_file_identity: dict[tuple[str, str, date], Patient] = {}
        for p in session.execute(_same_name_and_birth_date({v.identity for v in batch})).scalars():
            on_file_identity.setdefault((p.family_key, p.given_key, p.date_of_birth), p)
        for v in batch:
            number = v.details.nhs_number
            identity = v.identity
            if number and (earlier := seen_nhs.get(number) or new_nhs.get(number)):
                message = f"NHS number {format_nhs_number(number)} is the same as on line {earlier}."
                rows.append(ImportRow(v.line, RowOutcome.DUPLICATE, message, v.name))
            elif number and number in on_file_nhs:
                holder = on_file_nhs[number]
                removed = " (a removed record)" if holder.deleted_at is not None else ""
                message = (
                    f"NHS number {format_nhs_number(number)} is already on file{removed}: "
                    f"{DuplicateCandidate.of(holder).describe(with_nhs_number=False)}."
                )
                rows.append(ImportRow(v.line, RowOutcome.DUPLICATE, message, v.name, holder.id))
            elif earlier := seen_identity.get(identity) or new_identity.get(identity):
                message = f"possible duplicate of line {earlier} (same name and date of birth)."
                rows.append(ImportRow(v.line, RowOutcome.POSSIBLE_DUPLICATE, message, v.name))
            elif identity in on_file_identity:
                holder = on_file_identity[identity]
                message = (
                    f"possible duplicate of {DuplicateCandidate.of(holder).describe()} (same name and birth date)."
                )
                rows.append(ImportRow(v.line, RowOutcome.POSSIBLE_DUPLICATE, message, v.name, holder.id))
            else:
                patient = new_patient_row(ctx, v.details)
                patient.id = new_id()
                created.append((patient, {**row_payload(patient), "source": source, "line": v.line}))
                if number:
                    new_nhs[number] = v.line
                new_identity[identity] = v.line
                rows.append(ImportRow(v.line, RowOutcome.IMPORTED, "imported.", v.name, patient.id))
        session.add_all([patient for patient, _ in created])
        for patient, _ in created:
            enqueue(session, ctx, patient, "create")
        for patient, after in created:
            record_event(session, ctx, "patient.import", "patient", patient.id, after=after)
            if patient.consent_at is not None:
                record_event(session, ctx, "patient.consent", "patient", patient.id, after=consent_event(patient))
    seen_nhs.update(new_nhs)
    seen_identity.update(new_identity)
    return rows


def _same_name_and_birth_date(identities: set[tuple[str, str, date]]) -> ExecutableReturnsRows:
    """Patients on file (not removed) with any of these (family key, given key, date of birth). A join with a VALUES
    list is answered from the name + birth date index, one lookup per row (a row-value IN would scan the table)."""
    params: dict[str, Any] = {}
    rows = []
    for n, (family, given, born) in enumerate(sorted(identities)):
        params |= {f"f{n}": family, f"g{n}": given, f"d{n}": born.isoformat()}
        rows.append(f"(:f{n}, :g{n}, :d{n})")
    sql = text(
        f"WITH wanted(family_key, given_key, date_of_birth) AS (VALUES {', '.join(rows)}) "
        "SELECT patient.* FROM wanted JOIN patient ON patient.family_key = wanted.family_key "
        "AND patient.given_key = wanted.given_key AND patient.date_of_birth = wanted.date_of_birth "
        "WHERE patient.deleted_at IS NULL ORDER BY patient.created_at"
    ).bindparams(**params)
    return select(Patient).from_statement(sql)
