"""The ``rxdesk dmd`` command line, run in-process exactly as scripts call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli import main
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.trud_server import FakeTrud
from tests.release_zips import SAMPLE_2019, SAMPLE_2021, SAMPLE_BONUS_ZIP, build_bonus_zip, build_main_zip

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def main_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_main_zip(SAMPLE_2019, tmp_path_factory.mktemp("zips"))


@pytest.fixture
def home(tmp_path: Path, main_zip: Path) -> Path:
    data = tmp_path / "home"
    assert main(["dmd", "import", str(main_zip), "--bonus", str(SAMPLE_BONUS_ZIP), "--data-dir", str(data)]) == 0
    return data


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_info_json_reports_release_and_counts(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = run_json(capsys, "dmd", "info", "--json", "--data-dir", str(home))
    assert isinstance(info, dict)
    assert info["release"]["name"] == "nhsbsa_dmd_4.0.1_20190401000001"
    assert info["release"]["release_date"] == "2019-04-01"
    assert info["counts"] == {
        "vtm": 2859,
        "vmp": 7,
        "vmpp": 14,
        "amp": 15,
        "ampp": 26,
        "gtin": 16,
        "ingredient": 3482,
        "lookup": 3000,
        "bnf": 20523,
        "history": 45319,
        "vtm_ingredient": 2743,
    }


def test_search_show_and_gtin_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hits = run_json(capsys, "dmd", "search", "pilocarpine", "--limit", "3", "--json", "--data-dir", str(home))
    assert isinstance(hits, list)
    assert [(h["type"], h["name"]) for h in hits][:2] == [
        ("vtm", "Pilocarpine"),
        ("vmp", "Pilocarpine hydrochloride 6% eye drops"),
    ]
    assert len(hits) == 3
    detail = run_json(capsys, "dmd", "show", "347209005", "--json", "--data-dir", str(home))
    assert isinstance(detail, dict)
    assert detail["id"] == "36016311000001102" and detail["resolved_from"] == "347209005"
    assert detail["vmp"]["ingredients"][0]["ingredient"] == "Pilocarpine hydrochloride"
    packs = run_json(capsys, "dmd", "gtin", "8712400158572", "--json", "--data-dir", str(home))
    assert packs == [
        {
            "gtin": "8712400158572",
            "id": "1714711000001106",
            "type": "ampp",
            "name": "Nutrison liquid (Nutricia Ltd) 500 ml 1 x 500ml bottle",
            "start_date": "2010-02-01",
            "end_date": "2013-07-21",
            "end_dated": True,
        }
    ]


def test_tables_without_json_are_readable(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dmd", "search", "pilo", "--data-dir", str(home)]) == 0
    out = capsys.readouterr().out
    assert "Pilocarpine" in out and "VTM" in out
    assert main(["dmd", "show", "36016311000001102", "--data-dir", str(home)]) == 0
    out = capsys.readouterr().out
    assert "Pilocarpine hydrochloride 60mg/1ml" in out and "Eye drops" in out and "BNF 11060000" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dmd", "gtin", "8712400158573"], "check digit is wrong"),
        (["dmd", "gtin", "12345"], "has 5 digits"),
        (["dmd", "show", "123"], "No product, pack or ingredient has the dm+d id 123"),
        (["dmd", "show", "abc"], "is not a dm+d identifier"),
        (["dmd", "search", "x", "--limit", "0"], "--limit must be at least 1"),
        (["dmd", "import", "/nonexistent.zip"], "no such file or folder"),
    ],
)
def test_errors_are_one_clear_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*args, "--data-dir", str(home)]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_commands_without_a_catalogue_say_how_to_get_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dmd", "info", "--data-dir", str(tmp_path)]) == 1
    assert "rxdesk dmd import PATH" in capsys.readouterr().err


def test_rxdesk_home_selects_the_data_dir(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**os.environ, "RXDESK_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "dmd", "info", "--json"], cwd=ROOT, env=env, capture_output=True
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["counts"]["vmp"] == 7


def test_a_bad_import_as_a_subprocess_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "nhsbsa_dmd_9.9.9_20250101000001.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    out = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "dmd", "import", str(bad), "--data-dir", str(tmp_path / "h")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("rxdesk: nhsbsa_dmd_9.9.9_20250101000001.zip:")
    assert "Traceback" not in out.stderr


def test_update_installs_the_latest_release_from_trud_then_skips_it(
    tmp_path: Path,
    main_zip: Path,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "home"
    monkeypatch.setattr(sys, "stdin", _Stdin("secret-key-123\n"))
    assert main(["dmd", "set-trud-key", "--data-dir", str(data)]) == 0
    assert memory_keyring.secrets[("rxdesk", "trud-api-key")] == "secret-key-123"
    with FakeTrud(keys={"secret-key-123": {24, 25}}) as trud:
        trud.publish(24, main_zip)
        trud.publish(25, build_bonus_zip(SAMPLE_2021, tmp_path))
        monkeypatch.setenv("RXDESK_TRUD_URL", trud.base_url)
        assert main(["dmd", "update", "--data-dir", str(data)]) == 0
        assert "Installed the dm+d catalogue Release 4.0.1 of 01 April 2019." in capsys.readouterr().out
        downloads = len(trud.seen("download"))
        assert downloads == 2
        assert main(["dmd", "update", "--data-dir", str(data)]) == 0
        assert "up to date" in capsys.readouterr().out
        assert len(trud.seen("download")) == downloads  # nothing downloaded the second time
    info = run_json(capsys, "dmd", "info", "--json", "--data-dir", str(data))
    assert isinstance(info, dict)
    assert info["counts"]["history"] == 10  # the bonus release came along
    assert not list((data / "downloads").glob("*.zip*"))


def test_update_without_a_key_says_how_to_set_one(
    tmp_path: Path, memory_keyring: MemoryKeyring, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dmd", "update", "--data-dir", str(tmp_path)]) == 1
    assert "rxdesk dmd set-trud-key" in capsys.readouterr().err


class _Stdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self._text


def test_a_damaged_member_header_is_one_clear_line(
    tmp_path: Path, main_zip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    damaged = tmp_path / main_zip.name
    data = bytearray(main_zip.read_bytes())
    offset = zipfile.ZipFile(main_zip).getinfo("f_vmp2_3010419.xml").header_offset
    data[offset : offset + 4] = b"XXXX"  # the local header's signature
    damaged.write_bytes(bytes(data))
    assert main(["dmd", "import", str(damaged), "--data-dir", str(tmp_path / "home")]) == 1
    err = capsys.readouterr().err
    assert f"{main_zip.name}/f_vmp2_3010419.xml: the file is damaged" in err
    assert err.count("\n") == 1
    assert not [p for p in (tmp_path / "home").iterdir() if p.name != "releases"]


def test_data_dir_may_come_before_the_subcommand(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = run_json(capsys, "--data-dir", str(home), "dmd", "info", "--json")
    assert isinstance(info, dict)
    assert info["counts"]["vmp"] == 7


def test_ids_in_json_detail_are_always_strings(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    detail = run_json(capsys, "dmd", "show", "36016311000001102", "--json", "--data-dir", str(home))
    assert isinstance(detail, dict)
    vmp = detail["vmp"]
    assert vmp["vpid"] == "36016311000001102" and vmp["vtmid"] == "90356005"
    assert all(isinstance(i["isid"], str) for i in vmp["ingredients"])
    pack = detail["amps"][0]["packs"][0]
    assert isinstance(pack["appid"], str)
    assert isinstance(pack["price"]["price"], int)  # pence stay numbers
