"""Prescribing and dispensing from the command line, end to end, against real files in a data folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.dmd.catalogue import Catalogue
from core.dmd.layout import copy_replica
from desktop.cli import main
from tests.clinic import PASSWORD, PRESCRIBER_PIN, Clinic, copy_clinic
from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule


@pytest.fixture
def home(clinic_template: Clinic, demo_catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "home"
    data.mkdir()
    installation = copy_clinic(clinic_template, data / "rxdesk.sqlite")
    installation.clock.current = datetime.now(UTC)  # the commands run on the real clock
    fund_clinic(installation, 500)
    patient = add_patient(installation, given="Cara", family="Doyle")
    installation.database.close()
    copy_replica(demo_catalogue.path, data / "dmd.sqlite")
    (data / "patient_id").write_text(patient.id)
    monkeypatch.setenv("RXDESK_PASSWORD", PASSWORD)
    monkeypatch.setenv("RXDESK_PIN", PRESCRIBER_PIN)
    return data


def run(capsys: pytest.CaptureFixture[str], home: Path, user: str, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--data-dir", str(home), "--user", user])
    out, err = capsys.readouterr()
    return code, out, err


def test_prescribe_sign_dispense_and_print(
    home: Path, demo_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    vmp = vmp_with_schedule(demo_catalogue, ("0002",))
    code, out, _ = run(capsys, home, "drsmith", "prescription", "new", (home / "patient_id").read_text())
    assert code == 0
    rx_id = out.strip()
    code, out, _ = run(capsys, home, "drsmith", "prescription", "add", rx_id, vmp, "--dose", "10mg every 12 hours",
                       "--directions", "Take one every 12 hours", "--quantity", "28", "--days", "14")  # fmt: skip
    assert code == 0
    item_id = out.split()[0]
    code, out, _ = run(capsys, home, "drsmith", "prescription", "check", rx_id)
    assert code == 0 and "Every rule is satisfied" in out
    code, out, _ = run(capsys, home, "drsmith", "prescription", "sign", rx_id)
    assert code == 0 and "Signed 1 prescription for 15 tokens" in out

    code, out, _ = run(capsys, home, "pharm", "prescription", "queue", "--json")
    assert [row["id"] for row in json.loads(out)] == [rx_id]
    code, out, _ = run(capsys, home, "pharm", "cd-register", "receipt", vmp, "--quantity", "100",
                       "--supplier", "Alliance Healthcare, Leeds")  # fmt: skip
    assert code == 0 and "balance 100" in out
    code, out, _ = run(capsys, home, "pharm", "dispense", rx_id, f"{item_id}=20")
    assert code == 0 and "partially dispensed" in out and "Owed: 8" in out
    code, out, _ = run(capsys, home, "pharm", "prescription", "show", rx_id, "--json")
    shown = json.loads(out)
    assert shown["status"] == "partially dispensed" and shown["items"][0]["quantity_supplied"] == "20"
    pdf = home / "register.pdf"
    code, out, _ = run(capsys, home, "pharm", "cd-register", "print", vmp, "--out", str(pdf))
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF")


def test_refusals_are_one_line_each(
    home: Path, demo_catalogue: Catalogue, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    patient_id = (home / "patient_id").read_text()
    code, _, err = run(capsys, home, "pharm", "prescription", "new", patient_id)
    assert code == 1 and err.strip() == "rxdesk: A pharmacist may not write and sign prescriptions."
    _, rx_id, _ = run(capsys, home, "drsmith", "prescription", "new", patient_id)
    rx_id = rx_id.strip()
    code, _, err = run(capsys, home, "drsmith", "prescription", "add", rx_id, "123", "--dose", "1", "--directions",
                       "x", "--quantity", "ten")  # fmt: skip
    assert code == 1 and "not a quantity" in err and "Traceback" not in err
    vmp = vmp_with_schedule(demo_catalogue, ("0002",))
    run(capsys, home, "drsmith", "prescription", "add", rx_id, vmp, "--dose", "as directed", "--directions", "x",
        "--quantity", "10")  # fmt: skip
    code, out, err = run(capsys, home, "drsmith", "prescription", "sign", rx_id)
    assert code == 1 and "BLOCK  cd_dose:" in out and "cannot be signed" in err
    monkeypatch.setenv("RXDESK_PIN", "0000")
    code, _, err = run(capsys, home, "drsmith", "prescription", "sign", rx_id)
    assert code == 1 and "PIN is not right" in err
    code, _, err = run(capsys, home, "pharm", "dispense", rx_id, "no-equals-sign")
    assert code == 1 and "ITEM_ID=QUANTITY" in err


def test_register_a_patient_and_an_allergy(
    home: Path, demo_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["patient", "add", "--given", "Ewan", "--family", "Ross", "--born", "12/03/1980",
            "--nhs-number", "401 023 2137", "--postcode", "ls1 4ap"]  # fmt: skip
    code, out, _ = run(capsys, home, "drsmith", *args)
    assert code == 0
    patient_id = out.strip()
    code, _, err = run(capsys, home, "drsmith", *args)
    assert code == 1 and "already on file" in err
    isid = demo_catalogue.conn.execute("SELECT isid FROM ing WHERE invalid IS NULL LIMIT 1").fetchone()[0]
    code, out, _ = run(capsys, home, "drsmith", "patient", "allergy", patient_id, str(isid), "--severity", "severe",
                       "--reaction", "anaphylaxis")  # fmt: skip
    assert code == 0 and "Recorded: allergy to" in out
    code, _, err = run(
        capsys, home, "drsmith", "patient", "add", "--given", "A", "--family", "B", "--born", "31/02/1990"
    )
    assert code == 1 and "not a date in the calendar" in err


def test_register_a_patient_who_wants_text_messages(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.storage.database import open_database
    from core.storage.models import Patient

    base = ["patient", "add", "--given", "Ffion", "--family", "Rees", "--born", "1990-04-01", "--notify-by", "sms"]
    code, _, err = run(capsys, home, "drsmith", *base, "--phone", "0113 496 0111", "--consent")
    assert code == 1 and "text messages need a UK mobile number" in err
    code, out, _ = run(capsys, home, "drsmith", *base, "--phone", "07700 900123", "--consent")
    assert code == 0
    database = open_database(home / "rxdesk.sqlite")
    with database.reader() as session:
        patient = session.get_one(Patient, out.strip())
        assert (patient.notify_by, patient.phone, patient.consent_at is not None) == ("sms", "07700900123", True)
    database.close()
