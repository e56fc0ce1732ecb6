"""The live suite (tests/test_live_appwrite.py) run as its users would run it, but pointed at the Appwrite stand-in:
the suite's own code is known to work before it meets a real project, and it is not silently skipped here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.appwrite import AppwriteStandin

ROOT = Path(__file__).resolve().parent.parent


def test_the_live_suite_passes_against_the_standin(appwrite: AppwriteStandin) -> None:
    team = appwrite.create_team("Live suite practice")
    user = appwrite.create_user("live-suite@example.org", "live-suite-password-1")
    appwrite.add_membership(team, user, ["admin"])
    env = {
        **os.environ,
        "APPWRITE_ENDPOINT": appwrite.endpoint,
        "APPWRITE_PROJECT_ID": appwrite.project_id,
        "APPWRITE_TEST_EMAIL": "live-suite@example.org",
        "APPWRITE_TEST_PASSWORD": "live-suite-password-1",
        "APPWRITE_TEST_TEAM_ID": team,
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
         "tests/test_live_appwrite.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "4 passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-1000:]


def test_without_a_project_the_live_suite_is_reported_skipped() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPWRITE_")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:xdist", "-p", "no:cacheprovider",
         "tests/test_live_appwrite.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    assert "4 skipped" in run.stdout and "APPWRITE_ENDPOINT" in run.stdout, run.stdout[-1000:]
