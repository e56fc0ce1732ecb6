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

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import ValidationError
from core.ids import new_id
from core.outbox import enqueue, row_payload
from core.patients.records import (
    FIELD_LABELS,
    DuplicateCandidate,
    FieldError,
    PatientDetails,
    name_key,
    new_patient_row,
)
from core.storage.models import Patient
from core.users.roles import Permission, require
from core.validation.nhs_number import format_nhs_number

BATCH_SIZE = 500
FIELDS = tuple(FIELD_LABELS)  # nhs_number, title, given_name, family_name, date_of_birth, sex, address, ...
REQUIRED_FIELDS = ("given_name", "family_name", "date_of_birth")
DELIMITERS = (",", ";", "\t")

# Headers recognised without a mapping, compared with case, spaces and punctuation removed.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "nhs_number": ("nhsnumber", "nhsno", "nhs", "nhsnum"),
    "title": ("title", "prefix"),
    "given_name": ("givenname", "firstname", "forename", "forenames", "givennames", "firstnames", "first"),
    "family_name": ("familyname", "surname", "lastname", "last"),
    "date_of_birth": ("dateofbirth", "dob", "birthdate", "born"),
    "sex": ("sex", "gender"),
    "address": ("address", "fulladdress", "homeaddress"),
    "postcode": ("postcode", "postalcode", "post"),
    "phone": ("phone", "telephone", "tel", "phonenumber", "telephonenumber", "mobile", "mobilenumber"),
    "email": ("email", "emailaddress"),
}
_ADDRESS_LINE = re.compile(r"(?:address|addr)(?:line)?([1-9])")

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: [0-9:.]*)?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]*)?")


def header_key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


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


@dataclass(frozen=True)
class ColumnMapping:
    """Which CSV column holds which field, where the headers are not recognised by themselves.

    JSON: ``{"given_name": "Forename", "address": ["Addr 1", "Addr 2"], "phone": null}``: a header, a list of
    headers (address lines, joined), or null to ignore a column that would be recognised. Fields not named are
    still recognised from the headers.
    """

    columns: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_dict(cls, data: object, source: str = "The column mapping") -> ColumnMapping:
        if not isinstance(data, dict):
            raise ValidationError(f'{source} must be a JSON object such as {{"given_name": "Forename"}}.')
        unknown = [str(k) for k in data if k not in FIELDS]
        if unknown:
            raise ValidationError(
                f"{source} names unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}."
            )
        columns: dict[str, tuple[str, ...]] = {}
        for name, value in data.items():
            if value is None:
                columns[name] = ()
            elif isinstance(value, str) and value.strip():
                columns[name] = (value,)
            elif isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
                if name != "address" and len(value) > 1:
                    raise ValidationError(f"{source}: only the address may be read from several columns.")
                columns[name] = tuple(value)
            else:
                raise ValidationError(f"{source}: {name} must be a column header, a list of headers, or null.")
        return cls(columns)

    @classmethod
    def from_json(cls, path: Path) -> ColumnMapping:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ValidationError(f"{path}: the mapping file cannot be read ({exc.strerror or exc}).") from None
        except UnicodeDecodeError:
            raise ValidationError(f"{path}: the mapping file is not UTF-8 text.") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{path}: the mapping file is not valid JSON ({exc.msg}, line {exc.lineno})."
            ) from None
        return cls.from_dict(data, f"The mapping file {path.name}")


def resolve_columns(header: list[str], mapping: ColumnMapping | None) -> dict[str, list[int]]:
    """Field → column indexes. Raises ValidationError for a mapped header that is missing or a required field
    that no column holds."""
    keys = [header_key(h) for h in header]
    first: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key:
            first.setdefault(key, index)
    resolved: dict[str, list[int]] = {}
    explicit = mapping.columns if mapping else {}
    for name, headers in explicit.items():
        indexes = []
        for h in headers:
            if header_key(h) not in first:
                shown = ", ".join(repr(x) for x in header if x.strip())
                raise ValidationError(
                    f"The mapping names the column {h!r} for {name}, but the CSV header has no such column "
                    f"(it has {shown})."
                )
            indexes.append(first[header_key(h)])
        if indexes:
            resolved[name] = indexes
    taken = {i for indexes in resolved.values() for i in indexes}
    for name, synonyms in HEADER_NAMES.items():
        if name in explicit:
            continue
        found = next((first[s] for s in synonyms if s in first and first[s] not in taken), None)
        if found is not None:
            resolved[name] = [found]
            taken.add(found)
    if "address" not in explicit and "address" not in resolved:
        lines = sorted(
            (int(m.group(1)), i)
            for i, key in enumerate(keys)
            if (m := _ADDRESS_LINE.fullmatch(key)) and i not in taken and first.get(key) == i
        )
        if lines:
            resolved["address"] = [i for _, i in lines]
    missing = [name for name in REQUIRED_FIELDS if name not in resolved]
    if missing:
        labels = ", ".join(FIELD_LABELS[name].lower() for name in missing)
        raise ValidationError(
            f"The CSV has no column for the {labels} (looked for headers such as "
            f"{', '.join(_examples(name) for name in missing)}): name the columns in a mapping file."
        )
    return resolved


def _examples(name: str) -> str:
    return {
        "given_name": "'First name' or 'Forename'",
        "family_name": "'Surname' or 'Last name'",
        "date_of_birth": "'DOB' or 'Date of birth'",
    }[name]


# -- reading ---------------------------------------------------------------------------------------------


def decode_bytes(data: bytes) -> tuple[str, str]:
    """(text, encoding name): BOMs honoured; UTF-8, else Windows-1252 (what Excel writes), else Latin-1."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8 (BOM)"
        except UnicodeDecodeError:
            pass
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def sniff_delimiter(text: str) -> str:
    """The delimiter used most in the first line that has any text, quoted text ignored; a comma by default."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    unquoted = re.sub(r'"[^"]*"', "", first)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(start line, cells or None, error): blank lines left out; a row csv cannot read comes with its error."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield previous + 1, None, f"the row cannot be read as CSV ({exc})."
            previous = reader.line_num
            continue
        start, previous = previous + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            yield start, cells, None


def parse_date(text: str) -> date:
    """dd/mm/yyyy, d/m/yyyy (also with dots or dashes) or yyyy-mm-dd; a time after the date is ignored."""
    value = text.strip()
    if m := _DMY.fullmatch(value):
        day, month, year = (int(g) for g in m.groups())
    elif m := _ISO.fullmatch(value):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise FieldError("date_of_birth", f"{value} is not a date: use dd/mm/yyyy or yyyy-mm-dd.")
    try:
        return date(year, month, day)
    except ValueError:
        raise FieldError("date_of_birth", f"{value} is not a date in the calendar (day/month/year).") from None


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
    values: dict[str, Any] = {name: cell(name) for name in FIELDS if name != "date_of_birth"}
    return PatientDetails(date_of_birth=parse_date(dob_text), **values)


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
