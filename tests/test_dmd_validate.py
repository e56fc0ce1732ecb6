"""The link checks of a new replica, and the biggest of them shared out between two threads at the end of a build."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.dmd.errors import ValidationError
from core.dmd.validate import LINK_CHECKS, ReplicaValidator, _count_in_two_shares

[PACK_CHECK] = [check for check in LINK_CHECKS if check.split is not None]


def _database(path: Path, packs: list[tuple[int, int | None, int]]) -> None:
    """AMPs 1-100 of VMP 1 (odd) or 2 (even), VMPPs 1001-1010 of VMP 1, and the given AMPPs (appid, apid, vppid)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(
            "CREATE TABLE amp (apid INTEGER, vpid INTEGER); CREATE UNIQUE INDEX pk_amp ON amp (apid);"
            "CREATE TABLE vmpp (vppid INTEGER, vpid INTEGER); CREATE UNIQUE INDEX pk_vmpp ON vmpp (vppid);"
            "CREATE TABLE ampp (appid INTEGER, apid INTEGER, vppid INTEGER);"
            "CREATE INDEX ix_ampp_apid_vppid ON ampp (apid, vppid);"
        )
        conn.executemany("INSERT INTO amp VALUES (?, ?)", [(apid, 1 if apid % 2 else 2) for apid in range(1, 101)])
        conn.executemany("INSERT INTO vmpp VALUES (?, 1)", [(vppid,) for vppid in range(1001, 1011)])
        conn.executemany("INSERT INTO ampp VALUES (?, ?, ?)", packs)
        conn.commit()


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """200 AMPPs over AMPs 1-100, all under VMPPs of VMP 1: 97 with an AMP of VMP 2 (in both halves), three with no
    AMP (one at each end, one without an AMP id), three with no VMPP."""
    packs: list[tuple[int, int | None, int]] = [(appid, 1 + appid % 100, 1001 + appid % 10) for appid in range(200)]
    packs[0] = (0, 1, 9999)  # no VMPP
    packs[7] = (7, 0, 1001)  # no AMP, below every other apid
    packs[8] = (8, 10_000, 1001)  # no AMP, above
    packs[9] = (9, None, 1001)  # no AMP id at all
    packs[150] = (150, 51, 9998)  # no VMPP
    packs[151] = (151, 51, 9997)  # no VMPP
    path = tmp_path / "links.sqlite"
    _database(path, packs)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        yield conn, path


def _reader(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)


def test_two_shares_count_what_one_query_counts(broken: tuple[sqlite3.Connection, Path]) -> None:
    conn, path = broken
    whole = tuple(conn.execute(PACK_CHECK.sql).fetchone())
    assert whole == (3, 3, 97)
    assert _count_in_two_shares(conn, lambda: _reader(path), PACK_CHECK) == whole


def test_the_upper_share_runs_on_a_connection_of_its_own_closed_after(broken: tuple[sqlite3.Connection, Path]) -> None:
    conn, path = broken
    opened: list[sqlite3.Connection] = []

    def reader() -> sqlite3.Connection:
        opened.append(_reader(path))
        return opened[-1]

    assert _count_in_two_shares(conn, reader, PACK_CHECK) == (3, 3, 97)
    assert len(opened) == 1  # the upper half ran on its own connection, which is closed again
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")


def test_the_validator_reports_the_total_of_both_shares(broken: tuple[sqlite3.Connection, Path]) -> None:
    conn, path = broken
    validator = ReplicaValidator("release.zip")
    message = r"release\.zip: the release is inconsistent: 3 AMPPs whose AMP is missing"
    with pytest.raises(ValidationError, match=message):
        validator.check_links(conn, {"ampp", "amp", "vmpp"}, lambda: _reader(path))


def test_without_a_second_connection_both_shares_are_counted_here(
    broken: tuple[sqlite3.Connection, Path], tmp_path: Path
) -> None:
    conn, _path = broken

    def reader() -> sqlite3.Connection:
        return _reader(tmp_path / "missing.sqlite")  # unable to open database file

    assert _count_in_two_shares(conn, reader, PACK_CHECK) == (3, 3, 97)


def test_a_fault_that_is_not_the_database_s_is_not_hidden(broken: tuple[sqlite3.Connection, Path]) -> None:
    conn, _path = broken

    def reader() -> sqlite3.Connection:
        raise MemoryError

    with pytest.raises(MemoryError):
        _count_in_two_shares(conn, reader, PACK_CHECK)


def test_an_empty_table_is_checked_in_one_go(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    _database(path, [])
    with contextlib.closing(sqlite3.connect(path)) as conn:

        def reader() -> sqlite3.Connection:
            raise AssertionError("no second connection for an empty table")

        assert _count_in_two_shares(conn, reader, PACK_CHECK) == (0, 0, 0)


def test_only_the_pack_check_is_shared_out() -> None:
    # The others run while the other process is still busy; sharing them out would only slow it down.
    assert [check.split for check in LINK_CHECKS if check.split] == [("ampp", "apid")]
