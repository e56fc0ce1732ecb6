"""Loading rows into a new replica database: the build connection, batched inserts, one file into its tables.

Shared by the builder and its parse worker, each of which fills a database file of its own.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from itertools import chain
from pathlib import Path

from core.dmd import ddl
from core.dmd.errors import ReleaseError
from core.dmd.parser import Columns, ParseStats, Row, RowSink, parse_release_file
from core.dmd.schema import RELEASE_FILES
from core.dmd.source import ReleaseSource

Sources = dict[bool, ReleaseSource | None]  # main release (False) and bonus release (True)

BUILD_PRAGMAS = (
    # Before anything is written. Bigger pages than the default 4 KiB: a quarter fewer B-tree pages to fill and
    # split, so inserts and index builds take about a quarter less time; lookups in the finished replica are as
    # quick (a type-ahead query reads a few pages either way).
    "PRAGMA page_size = 16384",
    "PRAGMA journal_mode = OFF",  # a failed build is deleted, never rolled back
    "PRAGMA synchronous = OFF",  # durability comes from the fsync before the swap
    "PRAGMA locking_mode = EXCLUSIVE",
    "PRAGMA cache_size = -32768",
    "PRAGMA temp_store = FILE",
    "PRAGMA threads = 2",  # CREATE INDEX sorts with a helper thread
)


_ROWS_PER_STATEMENT = 256


def create_database(path: Path, statements: list[str]) -> sqlite3.Connection:
    """A new database file for a build (one of the replica's files, see layout.py), its tables created."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in BUILD_PRAGMAS:
        conn.execute(pragma)
    conn.execute("BEGIN")
    for statement in statements:
        conn.execute(statement)
    return conn


def load_file(
    src: ReleaseSource,
    key: str,
    sink: RowSink,
    on_bytes: Callable[[int], None] | None,
) -> ParseStats:
    rf = next(f for f in RELEASE_FILES if f.key == key)
    with src.open(key) as stream:
        # Messages name the archive and the file in it: "nhsbsa_dmd_….zip/f_vmp2_….xml: malformed XML (…)".
        return parse_release_file(stream, rf, f"{src.label}/{src.file_name(key)}", sink, on_bytes=on_bytes)


def row_writer(conn: sqlite3.Connection) -> RowSink:
    """Inserts batches of rows of one shape (table and present columns).

    Rows go in groups of up to 256 through one multi-row ``INSERT … VALUES (…), (…), …`` statement: per row,
    Python's executemany costs more than SQLite itself, and grouping more than halves the time of the whole insert.
    Groups stay within the connection's limit on parameters (999 in SQLite builds older than 3.32).
    """
    statements: dict[tuple[str, Columns], tuple[int, str, str]] = {}
    max_parameters = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def insert(table: str, columns: Columns, rows: list[Row]) -> None:
        shape = statements.get((table, columns))
        if shape is None:
            per_group = max(1, min(_ROWS_PER_STATEMENT, max_parameters // len(columns)))
            single = ddl.insert_sql(table, columns)
            group = single + (", (" + ", ".join("?" * len(columns)) + ")") * (per_group - 1)
            shape = statements[(table, columns)] = (per_group, group, single)
        per_group, group, single = shape
        grouped = len(rows) - len(rows) % per_group
        if grouped:
            flat = list(chain.from_iterable(rows[:grouped]))
            width = per_group * len(columns)
            conn.executemany(group, [flat[i : i + width] for i in range(0, len(flat), width)])
        if grouped < len(rows):
            conn.executemany(single, rows[grouped:])

    return insert


def sync_to_disk(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def storage_error(label: str, exc: sqlite3.DatabaseError) -> ReleaseError:
    if isinstance(exc, sqlite3.IntegrityError):
        return ReleaseError(
            f"{label}: the release has two records with the same id or a record without its id ({exc})."
        )
    return ReleaseError(f"{label}: the release could not be stored ({exc}).")


def source_of(sources: dict[bool, ReleaseSource | None], is_bonus: bool) -> ReleaseSource:
    src = sources[is_bonus]
    assert src is not None
    return src
