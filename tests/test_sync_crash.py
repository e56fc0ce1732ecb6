"""A workstation's sync killed with SIGKILL at every step, and the power cut during a commit, each in a process of
its own (tests/sync_crash_child.py); then a fresh engine in this process syncs until quiet, and nothing is lost,
applied twice, stalled or diverged (``SyncWorld.tally``).

The sync is a realistic one made small: the clinic's first sync (its organisations, users, audit trail, patients
and token account) pushed in batches of 12 and pulled in pages of 6 (the product's 100 and 100, made smaller in the
child so that a handful of rows make several batches and pages: the same code runs), with a credit written on the
server to pull. ``STEPS`` is every step the engine reports for it, in order; the child's own log is checked
against it, so a kill lands where the test says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import keyring
import pytest

from core.patients.records import PatientDetails, create_patient
from core.storage.database import open_database
from core.tokens.ledger import create_account
from sync.engine import SyncEngine
from tests.clinic import Clinic, TestClock, copy_clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.file_keyring import BACKEND_NAME, FILE_VARIABLE, FileKeyring
from tests.sync_crash_child import digest
from tests.sync_world import Device, SyncWorld, world

REPO = Path(__file__).resolve().parents[1]
BATCH = 12
PAGE = 6


@dataclass(frozen=True)
class Prepared:
    database: Path  # a closed app database: the clinic with its local work, never synced
    account: str


@dataclass
class Child:
    process: subprocess.Popen[str]
    keyring_file: Path

    def run(self, command: dict[str, object]) -> dict[str, int | None]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer: dict[str, int | None] = json.loads(self.process.stdout.readline())
        return answer


@pytest.fixture(scope="module")
def prepared(clinic_template: Clinic, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    folder = tmp_path_factory.mktemp("prepared")
    clinic = copy_clinic(clinic_template, folder / "rxdesk.sqlite")
    for given in ("Ann", "Bea", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal"):
        create_patient(clinic.prescriber, PatientDetails(given, "Jones", date(1970, 5, 17)))
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    clinic.database.close()
    return Prepared(folder / "rxdesk.sqlite", account.id)


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    keyring_file = tmp_path_factory.mktemp("keyring") / "keyring.json"
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": BACKEND_NAME, FILE_VARIABLE: str(keyring_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sync_crash_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    yield Child(process, keyring_file)
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0


@dataclass
class Scenario:
    world: SyncWorld
    device: Device
    path: Path
    log: Path


@pytest.fixture
def scenario(
    appwrite_server: Callable[..., AppwriteStandin], child: Child, prepared: Prepared, tmp_path: Path
) -> Iterator[Scenario]:
    """A fresh server and a copy of the prepared workstation signed in to it (its secret in the file keyring,
    where the child reads it), with a credit written on the server; the database closed for the child."""
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring(child.keyring_file))
    try:
        sync_world = world(appwrite_server(), tmp_path)
        path = tmp_path / "clinic-ws" / "rxdesk.sqlite"
        path.parent.mkdir()
        shutil.copyfile(prepared.database, path)
        device = sync_world.device("clinic-ws", open_database(path), TestClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC)))
        sync_world.credit_on_server(prepared.account, 100, "credit0001" + prepared.account[-20:])
        device.database.close()
        yield Scenario(sync_world, device, path, tmp_path / "steps.log")
    finally:
        keyring.set_keyring(previous)


def _command(scenario: Scenario, kill_at: int, power_cut: Path | None = None) -> dict[str, object]:
    return {"database": str(scenario.path), "kill_at": kill_at, "log": str(scenario.log), "batch": BATCH,
            "page": PAGE, "power_cut": str(power_cut) if power_cut else None}  # fmt: skip


def _recover(scenario: Scenario) -> None:
    """The app starts again on what the disk holds: a fresh engine syncs until quiet; then the invariants."""
    device = scenario.device
    device.database = open_database(scenario.path)
    device.engine = SyncEngine(device.database, clock=device.clock)
    try:
        scenario.world.settle()
        tally = scenario.world.tally()
        assert tally.lost == [] and tally.duplicated == [] and tally.stalled == 0 and tally.diverged == []
    finally:
        device.database.close()


def _steps(log: Path) -> list[str]:
    return [line[5:] for line in log.read_text().splitlines() if line.startswith("step ")]


def test_the_dry_run_reports_every_step_in_order(scenario: Scenario, child: Child) -> None:
    assert child.run(_command(scenario, kill_at=0)) == {"signal": None, "exit": 3}  # never killed: it finished
    assert scenario.log.read_text().splitlines()[-1] == "finished up to date True"
    assert _steps(scenario.log) == STEPS
    _recover(scenario)


# The clinic's first sync: 33 ops in 3 batches, 16 rows pulled in 6 pages (8 patients: 2 pages), then the check.
STEPS = [
    "session checked",
    "sending 12 changes",
    "answered 12 changes",
    "recorded 12 answers",
    "sending 12 changes",
    "answered 12 changes",
    "recorded 12 answers",
    "sending 9 changes",
    "answered 9 changes",
    "recorded 9 answers",
    "took 2 organisation rows",
    "took 4 user_account rows",
    "took 6 patient rows",
    "took 2 patient rows",
    "took 1 token_account rows",
    "took 1 ledger_entry rows",
    "checked against the server",
]


@pytest.mark.parametrize("kill_at", range(1, len(STEPS) + 1), ids=lambda k: f"{k}-{STEPS[k - 1].split()[0]}")
def test_killed_at_a_step_then_started_again(scenario: Scenario, child: Child, kill_at: int) -> None:
    """SIGKILL right after step ``kill_at`` is committed (after "answered": the server has applied the batch, the
    workstation has not recorded it; after "sending": the batch is not sent yet)."""
    assert child.run(_command(scenario, kill_at)) == {"signal": 9, "exit": None}
    assert _steps(scenario.log) == STEPS[:kill_at]  # it died where it was meant to
    _recover(scenario)


# A power cut during the commit that follows these steps: recording the first batch's answers (the server has
# applied the batch), the last batch's, the first page pulled, the second page of a table, the ledger's page.
POWER_CUTS = [
    STEPS.index("answered 12 changes") + 1,
    STEPS.index("answered 9 changes") + 1,
    STEPS.index("recorded 9 answers") + 1,
    STEPS.index("took 6 patient rows") + 1,
    STEPS.index("took 1 token_account rows") + 1,
]


@pytest.mark.parametrize("after_step", POWER_CUTS, ids=lambda k: f"{k}-{STEPS[k - 1].split()[0]}")
def test_power_cut_during_a_commit_then_started_again(
    scenario: Scenario, child: Child, after_step: int, tmp_path: Path
) -> None:
    """What is simulated: the app runs SQLite in WAL mode with synchronous=FULL, so every commit that returned was
    fsynced and survives a power cut; the one being written when the power fails does not. The child, after step
    ``after_step``, records a digest of the database, lets the next write transaction commit, then copies the data
    folder as the disk would hold it: the database file and the WAL with every frame of earlier commits and this
    commit's frames less its commit frame (its last), and no -shm (shared memory is gone). It is killed; that copy
    replaces the data folder; SQLite's recovery must drop the torn commit (the database reads exactly as at the
    digest), and the app's next sync must leave nothing lost, duplicated, stalled or diverged."""
    cut = tmp_path / "after-the-power-cut"
    assert child.run(_command(scenario, after_step, power_cut=cut)) == {"signal": 9, "exit": None}
    lines = scenario.log.read_text().splitlines()
    assert _steps(scenario.log) == STEPS[:after_step] and lines[-1] == "power cut"  # during the next commit
    before = next(line[7:] for line in lines if line.startswith("digest "))
    for leftover in scenario.path.parent.glob("rxdesk.sqlite*"):
        leftover.unlink()
    for saved in cut.iterdir():
        shutil.copyfile(saved, scenario.path.parent / saved.name)
    assert sorted(p.name for p in scenario.path.parent.iterdir()) == ["rxdesk.sqlite", "rxdesk.sqlite-wal"]
    assert (scenario.path.parent / "rxdesk.sqlite-wal").stat().st_size > 32  # frames of earlier commits, and torn
    database = open_database(scenario.path)  # recovery
    database.close()
    assert digest(scenario.path) == before  # the torn commit is gone, every earlier one is there
    _recover(scenario)
