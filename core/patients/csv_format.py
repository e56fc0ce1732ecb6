"""Reading a patients CSV as it comes: its encoding, delimiter, columns (by header or a mapping file) and dates.

Files as they come: UTF-8 with or without a BOM, UTF-16 with a BOM, or Windows-1252 (Excel's "CSV"); comma,
semicolon or tab delimited (read from the header line); blank lines; quoted cells spanning lines. Columns are found
by their header ("Surname", "Last name", "family_name" ...), case and spacing ignored, or named in a mapping file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.errors import ValidationError
from core.patients.records import FIELD_LABELS, FieldError

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
    "notify_by": ("notifyby", "tellby", "contactby", "contactpreference", "notifications", "notify"),
    "consent": ("consent", "notifyconsent", "contactconsent", "consenttocontact"),
}
_YES = {"y", "yes", "true", "1", "consent", "consented", "agreed"}
_NO = {"", "n", "no", "false", "0", "none", "withdrawn"}
_ADDRESS_LINE = re.compile(r"(?:address|addr)(?:line)?([1-9])")

_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: [0-9:.]*)?")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]*)?")


def header_key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


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


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
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


def parse_consent(text: str | None) -> bool:
    """A consent cell: yes/no, true/false, 1/0 (empty: no)."""
    value = (text or "").strip().casefold()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise FieldError("consent", f"{text} is not yes or no.")


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
