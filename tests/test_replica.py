"""The replica of a data directory: kept release archives and rebuilding after a schema change."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from core.dmd.catalogue import Catalogue
from core.dmd.replica import ensure_replica, import_release, kept_release, replica_is_current
from core.paths import replica_path
from tests.release_zips import SAMPLE_2019, SAMPLE_2021, build_main_zip


def test_import_keeps_only_the_latest_release_zip(tmp_path: Path) -> None:
    data = tmp_path / "home"
    data.mkdir()
    first = build_main_zip(SAMPLE_2019, tmp_path)
    import_release(data, first)
    assert kept_release(data) == (data / "releases" / first.name, None)
    second = build_main_zip(SAMPLE_2021, tmp_path)
    import_release(data, second)
    assert sorted(p.name for p in (data / "releases").iterdir()) == [second.name]


def test_a_replica_of_another_schema_is_rebuilt_from_the_kept_release_not_the_demo(tmp_path: Path) -> None:
    data = tmp_path / "home"
    data.mkdir()
    import_release(data, build_main_zip(SAMPLE_2019, tmp_path))
    path = replica_path(data)
    with sqlite3.connect(path) as conn:  # as if an older RxDesk had built it
        conn.execute("PRAGMA user_version = 0")
    assert not replica_is_current(path)
    result = ensure_replica(data)
    assert result is not None
    assert result.info.name == "nhsbsa_dmd_4.0.1_20190401000001"
    assert replica_is_current(path)
    with Catalogue(path) as cat:
        assert cat.counts()["vmp"] == 7
    assert ensure_replica(data) is None  # current now: nothing to do


def test_a_damaged_replica_file_is_not_current(tmp_path: Path) -> None:
    path = tmp_path / "dmd.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    assert not replica_is_current(path)


def test_a_build_cleans_up_what_a_killed_build_left_behind(tmp_path: Path) -> None:
    data = tmp_path / "home"
    data.mkdir()
    stale = data / ".dmd.sqlite.deadbeef.building"
    stale.write_bytes(b"half a database")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    recent = data / ".dmd.sqlite.cafef00d.part"  # possibly another build still running: left alone
    recent.write_bytes(b"part")
    import_release(data, build_main_zip(SAMPLE_2021, tmp_path))
    assert not stale.exists()
    assert recent.exists()


def test_without_a_second_process_the_catalogue_is_built_on_one_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.dmd import build as build_module
    from core.dmd.parse_worker import ParseWorkerLost

    class NoProcesses:
        def __init__(self, *args: object) -> None:
            raise ParseWorkerLost("the parsing process could not start (no processes allowed)")

    monkeypatch.setattr(build_module, "ParseWorker", NoProcesses)
    target = tmp_path / "dmd.sqlite"
    result = build_module.build_replica(target, build_main_zip(SAMPLE_2019, tmp_path), parallel=True)
    assert result.counts["vmp"] == 7
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_worker_that_dies_mid_build_falls_back_to_one_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.dmd import build as build_module
    from core.dmd.parse_worker import ParseWorker, ParseWorkerLost

    class DiesMidway(ParseWorker):
        def wait(self, tracker: object) -> list[object]:  # type: ignore[override]
            self.stop()  # the process is gone: as if the OS killed it
            raise ParseWorkerLost("the parsing process stopped unexpectedly")

    monkeypatch.setattr(build_module, "ParseWorker", DiesMidway)
    target = tmp_path / "dmd.sqlite"
    result = build_module.build_replica(target, build_main_zip(SAMPLE_2021, tmp_path), parallel=True)
    assert result.counts["ampp"] == 2
