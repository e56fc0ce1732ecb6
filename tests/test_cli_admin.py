"""The installation commands end to end: setup, users, audit verify, tokens, printing; errors as one line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from desktop.cli import main
from tests.clinic import PASSWORD, Clinic, copy_clinic
from tests.prescribing_helpers import fund_clinic


@pytest.fixture
def home(clinic_template: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "home"
    data.mkdir()
    installation = copy_clinic(clinic_template, data / "rxdesk.sqlite")
    fund_clinic(installation, 75)
    installation.database.close()
    monkeypatch.setenv("RXDESK_PASSWORD", PASSWORD)
    return data


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_setup_creates_the_first_admin_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RXDESK_PASSWORD", PASSWORD)
    data = str(tmp_path / "new")
    assert run(capsys, "setup", "--admin", "boss", "--full-name", "The Boss", "--data-dir", data)[0] == 0
    code, _, err = run(capsys, "setup", "--admin", "boss2", "--full-name", "X", "--data-dir", data)
    assert code == 1 and err.strip() == "rxdesk: This installation already has users: ask an admin to add you."


def test_user_add_and_sign_in_failures(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RXDESK_NEW_PASSWORD", "another password")
    monkeypatch.setenv("RXDESK_NEW_PIN", "4321")
    args = ["user", "add", "drjones", "--full-name", "Dr Jones", "--role", "prescriber", "--prescriber-type",
            "doctor", "--registration", "7654321", "--data-dir", str(home), "--user", "admin"]  # fmt: skip
    code, out, _ = run(capsys, *args)
    assert code == 0 and "User drjones (prescriber) created" in out
    code, _, err = run(capsys, *args)
    assert code == 1 and "taken" in err and "Traceback" not in err
    monkeypatch.setenv("RXDESK_PASSWORD", "wrong")
    code, _, err = run(capsys, "audit", "verify", "--data-dir", str(home), "--user", "admin")
    assert code == 1 and err.strip() == "rxdesk: Wrong user name, password or PIN."


def test_audit_verify_reports_the_first_broken_link(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "verify", "--data-dir", str(home), "--user", "admin")
    assert code == 0 and "The audit log is intact" in out
    with sqlite3.connect(home / "rxdesk.sqlite") as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET action = 'user.delete' WHERE seq = 3")
    code, _, err = run(capsys, "audit", "verify", "--data-dir", str(home), "--user", "admin")
    assert code == 1
    assert "tampered with: event 3 (user.delete) was changed after it was written (event 3)" in err


def test_audit_verify_needs_an_admin(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "audit", "verify", "--data-dir", str(home), "--user", "pharm")
    assert code == 1 and "A pharmacist may not view the audit log." in err


def test_tokens_balance_and_statement(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tokens", "balance", "--json", "--data-dir", str(home), "--user", "admin")
    [account] = json.loads(out)
    assert code == 0 and account["name"] == "Riverside Surgery" and account["available"] == 75
    account_id = account["id"]
    pdf = tmp_path / "statement.pdf"
    code, out, _ = run(capsys, "tokens", "statement", account_id, "--from", "2026-01-01", "--to", "2026-12-31",
                       "--out", str(pdf), "--data-dir", str(home), "--user", "admin")  # fmt: skip
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF")
    code, _, err = run(capsys, "prescription", "print", "0" * 32, "--out", str(pdf), "--data-dir", str(home),
                       "--user", "drsmith")  # fmt: skip
    assert code == 1 and "No prescription" in err


def test_a_new_installation_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RXDESK_PASSWORD", PASSWORD)
    data = ["--data-dir", str(tmp_path / "new")]
    admin = [*data, "--user", "boss"]
    assert run(capsys, "setup", "--admin", "boss", "--full-name", "The Boss", *data)[0] == 0
    details = ["--name", "Hill Surgery", "--address", "4 Hill Rd, York", "--postcode", "YO1 7HH"]
    details += ["--phone", "01904 000000"]
    code, out, _ = run(capsys, "organisation", "add", "--kind", "clinic", *details, *admin)
    assert code == 0
    org_id = out.strip()
    code, out, _ = run(capsys, "tokens", "account", org_id, "--overdraft", "20", *admin)
    account_id = out.strip()
    assert run(capsys, "tokens", "credit", account_id, "250", "--description", "Cheque 0042", *admin)[0] == 0
    code, out, _ = run(capsys, "tokens", "balance", "--json", *admin)
    [account] = json.loads(out)
    assert (account["name"], account["available"], account["overdraft_limit"]) == ("Hill Surgery", 250, 20)
    code, _, err = run(capsys, "tokens", "credit", account_id, "-5", "--description", "x", *admin)
    assert code == 1 and "positive" in err
