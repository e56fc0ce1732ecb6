"""``rxdesk kiosk configure`` and ``rxdesk --kiosk-workspace``: admins set how the kiosk runs; errors as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.kiosk import KioskSettings, KioskWorkspace, kiosk_settings
from core.storage.database import open_database
from desktop.cli import _parser, main
from tests.clinic import PASSWORD, Clinic, copy_clinic


@pytest.fixture
def home(clinic_template: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "home"
    data.mkdir()
    copy_clinic(clinic_template, data / "rxdesk.sqlite").database.close()
    monkeypatch.setenv("RXDESK_PASSWORD", PASSWORD)
    return data


def test_an_admin_configures_the_kiosk(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["kiosk", "configure", "--workspace", "patients", "--idle-minutes", "3", "--data-dir", str(home)]
    assert main([*args, "--user", "admin"]) == 0
    assert "shows the patients workspace and locks after 3 idle minute(s)" in capsys.readouterr().out
    database = open_database(home / "rxdesk.sqlite")
    try:
        assert kiosk_settings(database) == KioskSettings(KioskWorkspace.PATIENTS, 3)
    finally:
        database.close()
    assert main([*args, "--user", "pharm"]) == 1
    assert "rxdesk: Only an admin can change how the kiosk runs." in capsys.readouterr().err
    assert main(["kiosk", "configure", "--idle-minutes", "0", "--data-dir", str(home), "--user", "admin"]) == 1
    assert "1 to 120" in capsys.readouterr().err


def test_the_kiosk_workspace_can_be_chosen_for_one_run() -> None:
    args = _parser().parse_args(["--kiosk", "--kiosk-workspace", "medicines"])
    assert args.kiosk and args.kiosk_workspace == "medicines" and args.group is None
    with pytest.raises(SystemExit):
        _parser().parse_args(["--kiosk", "--kiosk-workspace", "prescribe"])
