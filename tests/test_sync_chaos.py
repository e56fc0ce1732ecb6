"""The chaos harness (tests/chaos.py) in the suite: a few seeded runs of random multi-workstation work, syncs and
faults, each ending with nothing lost, duplicated, stalled or diverged. ``python -m tests.chaos --runs 1000`` is
the long form (README, "Sync reliability")."""

from __future__ import annotations

import io
from pathlib import Path

from core.dmd.catalogue import Catalogue
from tests import chaos
from tests.clinic import Clinic
from tests.fakes.memory_keyring import MemoryKeyring
from tests.prescribing_helpers import vmp_with_schedule

RUNS = 8
SEED = 20260302


def test_seeded_chaos_runs_lose_duplicate_stall_and_diverge_nothing(
    clinic_template: Clinic, demo_catalogue: Catalogue, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    fixtures = chaos.Fixtures(
        clinic_template, demo_catalogue, vmp_with_schedule(demo_catalogue, None), chaos.installations(tmp_path)
    )
    failures = io.StringIO()
    with chaos.scratch_folder() as folder:
        totals = chaos.run_many(RUNS, SEED, fixtures, folder, out=failures)
    assert failures.getvalue() == ""
    assert totals == {"runs": RUNS, "lost": 0, "duplicated": 0, "stalled": 0, "diverged": 0}
