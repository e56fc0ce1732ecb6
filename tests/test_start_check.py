"""``rxdesk --check-start`` and the packaging check (tests/check_dist.py), run against the source tree.

``make dist-check`` runs the same check on the frozen app; PyInstaller takes a minute, so it is not part of
``make test``. Here the check's own logic is exercised on ``python -m desktop``: new processes, offscreen Qt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import check_dist

SOURCE_APP = [sys.executable, "-m", "desktop"]


def start_check(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RXDESK_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [*SOURCE_APP, "--check-start"], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def failure_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The check's own lines on stderr (Qt and the log may add theirs)."""
    return [line for line in result.stderr.splitlines() if line.startswith("rxdesk:")]


@pytest.mark.slow
def test_the_check_passes_on_the_source_tree(capsys: pytest.CaptureFixture[str]) -> None:
    """All but the parse worker step (tests/test_dmd_samples.py builds with the worker), with one timed start."""
    app = " ".join(SOURCE_APP)
    assert check_dist.main(["--app", app, "--starts", "1", "--no-worker"]) == 0
    out = capsys.readouterr().out
    assert "first start: sign-in window painted after" in out
    assert "is nhsbsa_dmd_11.1.0_20251110000001; rxdesk dmd info --json: 400 VTM" in out
    assert "cold start to the painted sign-in window (1 new processes" in out
    assert "DejaVu Sans embedded, its Code 128 and QR symbols read back as its id" in out
    assert "card form: Qt WebEngine showed RxDesk's payment page" in out
    assert out.rstrip().endswith("passed.")


def test_check_start_fails_in_one_line_when_the_data_folder_cannot_be_used(tmp_path: Path) -> None:
    home = tmp_path / "not-a-folder"
    home.write_text("a file where the data folder should be")
    result = start_check(home)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert failure_lines(result) == [
        f"rxdesk: start check failed: RxDesk cannot use its data folder. File exists ({home})."
    ]


def test_check_start_fails_when_the_catalogue_cannot_be_built(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir()
    (tmp_path / "releases" / "nhsbsa_dmd_9.9.9_20250101000001.zip").write_text("not a zip")
    result = start_check(tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert failure_lines(result) == [
        "rxdesk: start check failed: The medicines catalogue could not be prepared. "
        "nhsbsa_dmd_9.9.9_20250101000001.zip: not a readable zip archive (File is not a zip file)."
    ]


def test_the_check_reports_an_app_that_fails_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = f"{sys.executable} -c \"import sys; print('rxdesk: no display.', file=sys.stderr); sys.exit(1)\""
    assert check_dist.main(["--app", failing, "--starts", "0", "--no-documents", "--no-worker"]) == 1
    assert capsys.readouterr().err == "check_dist: FAILED: the first start failed: rxdesk: no display.\n"
    assert check_dist.main(["--app", str(tmp_path / "rxdesk")]) == 1
    assert "is not there: build it with `make dist`." in capsys.readouterr().err


def test_a_build_that_fell_back_to_one_core_or_started_no_worker_fails() -> None:
    fell_back = check_dist.Run(0, [], "building on one core: the parsing process could not start (x)\n")
    with pytest.raises(check_dist.CheckFailed, match="fell back to one core: building on one core"):
        check_dist._expect_worker(fell_back, "the build")
    no_worker = check_dist.Run(0, [], "", children=[["rxdesk", "-c", "from multiprocessing.resource_tracker"]])
    with pytest.raises(check_dist.CheckFailed, match="started no parse worker"):
        check_dist._expect_worker(no_worker, "the build")
    worker = check_dist.Run(0, [], "", children=[["rxdesk", "--multiprocessing-fork", "tracker_fd=7"]])
    check_dist._expect_worker(worker, "the build")


def test_check_card_form_shows_the_payment_page_in_web_engine(tmp_path: Path) -> None:
    env = {**os.environ, "RXDESK_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([*SOURCE_APP, "--check-card-form"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("its card form's place and the channel to the app")


def test_check_card_form_says_why_without_web_engine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop import card_form_check

    monkeypatch.setattr(card_form_check, "web_engine_available", lambda: False)
    assert card_form_check.check_card_form() == 1
    assert "rxdesk: card form: Qt WebEngine is not part of this installation" in capsys.readouterr().err
