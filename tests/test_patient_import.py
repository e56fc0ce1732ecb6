"""Importing patients from CSV: the files people really have, duplicates, bad rows, the report, and the CLI."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.audit.log import audit_trail, verify_chain
from core.errors import PermissionDenied, ValidationError
from core.patients import csv_import
from core.patients.csv_import import (
    ColumnMapping,
    ImportReport,
    RowOutcome,
    decode_bytes,
    import_patients_csv,
    parse_date,
    sniff_delimiter,
)
from core.patients.records import PatientDetails, create_patient
from core.storage.models import AuditEvent, OutboxEntry, Patient
from desktop.cli import main
from tests.clinic import PASSWORD, Clinic, copy_clinic

HEADER = "NHS Number,First name,Surname,DOB,Postcode,Telephone,Email,Address line 1,Address line 2"
MIXED = f"""{HEADER}
943 476 5919,Jane,Smith,12/03/1980,LS1 4AP,0113 496 0000,jane@example.org,1 High Street,Leeds
4010232137,John,Smith,1955-07-30,ls1 5dl,,,"Flat 2
3 Park Row",Leeds

9434765918,Bad,Check,01/01/1970,,,,,
,Future,Baby,01/01/2030,,,,,
,No,Date,,,,,,
,Too,Few,01/01/1970
,Too,Many,01/01/1970,,,,,,extra
,Trailing,Empty,1/2/1970,,,,,,,
943 476 5919,Janet,Other,02/02/1962,,,,,
,JANE,SMITH,12/3/1980,,,,,
9434765870,Thomas,Jones,03/04/1975,,,,,
,Tom,Jones,01/06/1975,,,,,
,Ann,Postcode,01/01/1990,NOT A PC,,,,
,Zoë,O'Brien,31/02/1990,,,,,
"""
# line: outcome, expected words in the message
EXPECTED = {
    2: (RowOutcome.IMPORTED, ""),
    3: (RowOutcome.IMPORTED, ""),
    6: (RowOutcome.REJECTED, "NHS number: 9434765918 is not a valid NHS number"),
    7: (RowOutcome.REJECTED, "Date of birth: 01/01/2030 is in the future"),
    8: (RowOutcome.REJECTED, "Date of birth: this is required"),
    9: (RowOutcome.REJECTED, "the row has 4 cells but the header has 9"),
    10: (RowOutcome.REJECTED, "the row has 10 cells but the header has 9"),
    11: (RowOutcome.IMPORTED, ""),
    12: (RowOutcome.DUPLICATE, "NHS number 943 476 5919 is the same as on line 2"),
    13: (RowOutcome.POSSIBLE_DUPLICATE, "possible duplicate of line 2"),
    14: (RowOutcome.DUPLICATE, "NHS number 943 476 5870 is already on file: Tom Jones"),
    15: (RowOutcome.POSSIBLE_DUPLICATE, "possible duplicate of Tom Jones, born 01/06/1975"),
    16: (RowOutcome.REJECTED, "Postcode: NOT A PC is not a UK postcode"),
    17: (RowOutcome.REJECTED, "Date of birth: 31/02/1990 is not a date in the calendar"),
}


@pytest.fixture
def clinic(clinic_template: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    """A fresh clinic with one patient already on file: Tom Jones, whom the mixed file duplicates."""
    installation = copy_clinic(clinic_template, tmp_path / "rxdesk.sqlite")
    create_patient(installation.admin, PatientDetails("Tom", "Jones", date(1975, 6, 1), nhs_number="9434765870"))
    yield installation
    installation.database.close()


def write(tmp_path: Path, text: str, name: str = "patients.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def outcomes(report: ImportReport) -> dict[int, RowOutcome]:
    return {r.line: r.outcome for r in report.rows}


def count(clinic: Clinic, model: type[Patient] | type[AuditEvent] | type[OutboxEntry]) -> int:
    with clinic.database.reader() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def check_mixed(report: ImportReport) -> None:
    assert outcomes(report) == {line: outcome for line, (outcome, _) in EXPECTED.items()}
    for row in report.rows:
        assert EXPECTED[row.line][1] in row.message, (row.line, row.message)
    assert (report.imported, report.duplicates, report.possible_duplicates, report.rejected) == (3, 2, 2, 7)


def test_mixed_file_imports_good_rows_and_reports_the_rest(clinic: Clinic, tmp_path: Path) -> None:
    audit_before, outbox_before = count(clinic, AuditEvent), count(clinic, OutboxEntry)
    report = import_patients_csv(clinic.admin, write(tmp_path, MIXED))
    check_mixed(report)
    assert (report.encoding, report.delimiter) == ("UTF-8", ",")
    assert report.columns["address"] == "Address line 1 + Address line 2"
    assert report.columns["phone"] == "Telephone"
    with clinic.database.reader() as s:
        john = s.execute(select(Patient).where(Patient.nhs_number == "4010232137")).scalar_one()
        assert (john.address, john.postcode, john.date_of_birth) == (
            "Flat 2\n3 Park Row\nLeeds",
            "LS1 5DL",
            date(1955, 7, 30),
        )
        jane = s.execute(select(Patient).where(Patient.nhs_number == "9434765919")).scalar_one()
        assert (jane.phone, jane.email, jane.family_key) == ("01134960000", "jane@example.org", "smith")
        imported = [r.patient_id for r in report.rows if r.outcome is RowOutcome.IMPORTED]
        for patient_id in imported:
            assert patient_id is not None
            [event] = audit_trail(s, "patient", patient_id)
            assert event.action == "patient.import" and json.loads(event.after or "")["source"] == "patients.csv"
        assert verify_chain(s).intact
        summary = s.execute(select(AuditEvent).where(AuditEvent.action == "patient.import_file")).scalar_one()
        assert json.loads(summary.after or "")["imported"] == 3
    assert count(clinic, Patient) == 1 + 3
    assert count(clinic, AuditEvent) == audit_before + 3 + 1
    assert count(clinic, OutboxEntry) == outbox_before + 3 + 3 + 1  # the patients and every audit event
    # a second import of the same file: everything already there
    again = import_patients_csv(clinic.admin, write(tmp_path, MIXED))
    assert again.imported == 0 and count(clinic, Patient) == 4
    assert outcomes(again)[2] is RowOutcome.DUPLICATE and outcomes(again)[11] is RowOutcome.POSSIBLE_DUPLICATE


def test_batches_give_the_same_result_and_a_failed_batch_leaves_nothing_half_written(
    clinic: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_import, "BATCH_SIZE", 2)
    check_mixed(import_patients_csv(clinic.admin, write(tmp_path, MIXED)))
    with clinic.database.reader() as s:
        assert verify_chain(s).intact

    rows = "\n".join(f",Given{chr(97 + n)},Family,01/01/1970,,,,," for n in range(5))
    calls = []
    real_enqueue = csv_import.enqueue

    def failing_enqueue(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 3:  # the first patient of the second batch
            raise OSError("disk full")
        return real_enqueue(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_import, "enqueue", failing_enqueue)
    patients, events, outbox = count(clinic, Patient), count(clinic, AuditEvent), count(clinic, OutboxEntry)
    with pytest.raises(OSError, match="disk full"):
        import_patients_csv(clinic.admin, write(tmp_path, f"{HEADER}\n{rows}\n", "more.csv"))
    # the first batch (2 patients) is in, whole; nothing at all of the second
    assert count(clinic, Patient) == patients + 2
    assert count(clinic, AuditEvent) == events + 2
    assert count(clinic, OutboxEntry) == outbox + 2 + 2  # the patients and their audit events
    with clinic.database.reader() as s:
        assert verify_chain(s).intact


@pytest.mark.parametrize(
    ("encoding", "delimiter", "bom"),
    [("utf-8", ";", True), ("cp1252", ";", False), ("utf-8", "\t", False), ("utf-16", "\t", False)],
)
def test_encodings_and_delimiters(clinic: Clinic, tmp_path: Path, encoding: str, delimiter: str, bom: bool) -> None:
    lines = [
        ["Surname", "Forename", "Date of Birth", "NHS No", "Address"],
        ["Núñez", "Zoë", "05/11/1972", "401 023 2137", "1 Rue d'Été; Leeds"],
        ["Smith", "Jo", "1990-01-31", "", ""],
    ]
    text = "\r\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in lines) + "\r\n"
    data = ("\ufeff" if bom else "") + text
    report = import_patients_csv(clinic.admin, write(tmp_path, data, encoding=encoding))
    assert [r.outcome for r in report.rows] == [RowOutcome.IMPORTED, RowOutcome.IMPORTED], report.rows
    assert report.delimiter == delimiter
    with clinic.database.reader() as s:
        zoe = s.execute(select(Patient).where(Patient.nhs_number == "4010232137")).scalar_one()
        assert (zoe.given_name, zoe.family_name, zoe.family_key, zoe.address) == (
            "Zoë",
            "Núñez",
            "nunez",
            "1 Rue d'Été; Leeds",
        )


def test_decoding_and_sniffing() -> None:
    assert decode_bytes("Zoë".encode()) == ("Zoë", "UTF-8")
    assert decode_bytes("\ufeffZoë".encode()) == ("Zoë", "UTF-8 (BOM)")
    assert decode_bytes("Zoë".encode("cp1252")) == ("Zoë", "Windows-1252")
    assert decode_bytes(b"\x81") == ("\x81", "Latin-1")  # undefined in cp1252
    assert sniff_delimiter("a;b;c\n1,5;2;3") == ";"
    assert sniff_delimiter('"a,b";c;d') == ";"
    assert sniff_delimiter("\n\nname\tdob\n") == "\t"
    assert sniff_delimiter("surname") == ","


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/03/1980", date(1980, 3, 12)),
        ("1/2/1970", date(1970, 2, 1)),
        ("01.02.1970", date(1970, 2, 1)),
        ("1980-03-12", date(1980, 3, 12)),
        ("1980-03-12 00:00:00", date(1980, 3, 12)),
        ("12/03/1980 00:00", date(1980, 3, 12)),
        (" 29/02/2000 ", date(2000, 2, 29)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["12/03/80", "1980/03/12", "March 12 1980", "29/02/2001", "13/13/1980", "12-03-80"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValidationError, match="Date of birth"):
        parse_date(text)


def test_mapping_file(clinic: Clinic, tmp_path: Path) -> None:
    data = (
        "Patient surname,Given,Birth,Phone,Addr A,Addr B,Mobile\n"
        "Smith,Jo,01/02/1990,not a phone,1 Road,Leeds,07700 900123\n"
    )
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(
        json.dumps(
            {
                "family_name": "patient SURNAME",  # case and spaces do not matter
                "given_name": "Given",
                "date_of_birth": "Birth",
                "address": ["Addr A", "Addr B"],
                "phone": "Mobile",  # instead of the "Phone" column it would find by itself
            }
        )
    )
    report = import_patients_csv(clinic.admin, write(tmp_path, data), ColumnMapping.from_json(mapping_file))
    assert [r.outcome for r in report.rows] == [RowOutcome.IMPORTED]
    with clinic.database.reader() as s:
        jo = s.execute(select(Patient).where(Patient.given_name == "Jo")).scalar_one()
        assert (jo.address, jo.phone) == ("1 Road\nLeeds", "07700900123")
    ignored = ColumnMapping.from_dict(
        {"phone": None, "family_name": "Patient surname", "given_name": "Given", "date_of_birth": "Birth"}
    )
    report = import_patients_csv(clinic.admin, write(tmp_path, data.replace("Jo,", "Joe,")), ignored)
    assert [r.outcome for r in report.rows] == [RowOutcome.IMPORTED] and "phone" not in report.columns


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"given_nme": "Forename"}', "unknown field\\(s\\) given_nme; the fields are nhs_number"),
        ('{"given_name": "Forename"}', "names the column 'Forename' for given_name, but the CSV header has no such"),
        ('{"given_name": 3}', "given_name must be a column header"),
        ('{"phone": ["A", "B"]}', "only the address may be read from several columns"),
        ('["given_name"]', "must be a JSON object"),
        ('{"given_name": "First name",}', "not valid JSON"),
    ],
)
def test_bad_mapping_files(clinic: Clinic, tmp_path: Path, content: str, message: str) -> None:
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(content)
    with pytest.raises(ValidationError, match=message):
        import_patients_csv(clinic.admin, write(tmp_path, MIXED), ColumnMapping.from_json(mapping_file))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no header line and no rows"),
        ("\n\n", "no header line and no rows"),
        ("Surname,First name\nSmith,Jo\n", "no column for the date of birth"),
        ("Name,Birthday\nJo Smith,01/01/1990\n", "no column for the given name, family name, date of birth"),
    ],
)
def test_files_that_cannot_be_imported(clinic: Clinic, tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        import_patients_csv(clinic.admin, write(tmp_path, content))
    with pytest.raises(ValidationError, match="cannot be read"):
        import_patients_csv(clinic.admin, tmp_path / "missing.csv")


def test_only_an_admin_imports(clinic: Clinic, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        import_patients_csv(clinic.prescriber, write(tmp_path, MIXED))


def test_report_as_csv(clinic: Clinic, tmp_path: Path) -> None:
    data = f'{HEADER}\n,=HYPERLINK("x"),Smith,01/01/1990,,,,,\n,Jo,Smith,01/01/1990,,,,,\n'
    report = import_patients_csv(clinic.admin, write(tmp_path, data))
    out = tmp_path / "report.csv"
    report.write_csv(out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["line"], r["outcome"]) for r in rows] == [("2", "imported"), ("3", "imported")]
    assert rows[0]["name"] == '\'=HYPERLINK("x") Smith'  # never a live formula in a spreadsheet
    assert rows[1]["patient_id"] == report.rows[1].patient_id


# -- command line ----------------------------------------------------------------------------------------


@pytest.fixture
def home(clinic_template: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "home"
    data.mkdir()
    copy_clinic(clinic_template, data / "rxdesk.sqlite").database.close()
    monkeypatch.setenv("RXDESK_PASSWORD", PASSWORD)
    return data


def test_cli_import_and_search(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path, MIXED)
    report = tmp_path / "report.csv"
    code = main(["patient", "import", str(source), "--data-dir", str(home), "--user", "admin", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    table = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if "│" in line}
    assert table["imported"] == "5" and table["rejected"] == "7" and table["rows read"] == "14"
    assert "line 6: NHS number: 9434765918 is not a valid NHS number" in out
    assert f"Report written to {report}" in out
    assert len(report.read_text(encoding="utf-8-sig").splitlines()) == 1 + len(EXPECTED)  # a header, a line per row
    assert main(["patient", "search", "smith", "--json", "--data-dir", str(home), "--user", "drsmith"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(p["given_name"], p["nhs_number"]) for p in found] == [("Jane", "9434765919"), ("John", "4010232137")]
    assert main(["patient", "search", "12/03/1980", "--data-dir", str(home), "--user", "tech"]) == 0
    assert "SMITH, Jane" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["patient", "import", "{tmp}/missing.csv"], "missing.csv: no such file."),
        (["patient", "import", "{tmp}/patients.csv", "--mapping", "{tmp}/bad.json"], "unknown field(s) forename"),
        (["patient", "import", "{tmp}/patients.csv", "--user", "drsmith"], "A prescriber may not import patients."),
        (["patient", "import", "{tmp}/patients.csv", "--user", "nobody"], "Wrong user name, password or PIN."),
        (["patient", "search", "smith", "--limit", "0"], "--limit must be at least 1."),
    ],
)
def test_cli_errors_are_one_line(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write(tmp_path, MIXED)
    (tmp_path / "bad.json").write_text('{"forename": "First name"}')
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args] + ["--data-dir", str(home)]
    if "--user" not in argv:
        argv += ["--user", "admin"]
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rxdesk: ") and message in err, err


def test_cli_wrong_password(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RXDESK_PASSWORD", "wrong password")
    assert main(["patient", "search", "smith", "--data-dir", str(home), "--user", "admin"]) == 1
    assert capsys.readouterr().err == "rxdesk: Wrong user name, password or PIN.\n"
