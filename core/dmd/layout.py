"""The replica's two files: the main file (``dmd.sqlite``) and its packs file.

The packs (the AMPP release file's tables, their indexes and their part of the search index) live in a file of
their own, ``dmd-packs-<tag>.sqlite`` beside the main file, which names it in ``replica_file``. A build's two
processes each fill one of the files, so neither has to copy the other's tables in at the end (that copy was the
last step of the build that used only one core). A reader opens the main file and attaches the packs file as
``packs``; table names are unique across the two, so queries name tables without saying which file holds them.

The main file is the commit point: the new packs file gets its final, new name first, then the new main file
replaces the old one in one ``os.replace``. A reader sees either the old pair or the new pair, never a mix.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

from core.dmd.errors import DmdError
from core.dmd.schema import RECORD_TYPES, record_types_for

PACKS_SCHEMA = "packs"
# Release files whose tables live in the packs file.
PACK_FILES = ("ampp",)

REPLICA_FILE_TABLE = "CREATE TABLE replica_file (schema TEXT PRIMARY KEY, file TEXT NOT NULL) WITHOUT ROWID"


def pack_tables() -> set[str]:
    return {rt.table for key in PACK_FILES for rt in record_types_for(key)}


def main_tables() -> set[str]:
    return {rt.table for rt in RECORD_TYPES} - pack_tables()


def packs_file_name(target: Path, tag: str) -> str:
    return f"{target.stem}-packs-{tag}{target.suffix}"


def read_only_uri(path: Path) -> str:
    """An SQLite URI that opens ``path`` read-only, whatever its name holds (``#``, ``?``, ``%``, spaces, a drive)."""
    return f"{path.absolute().as_uri()}?mode=ro"


def packs_files(target: Path) -> list[Path]:
    """Every packs file beside ``target``: the one it names and any a former build left."""
    return sorted(target.parent.glob(f"{target.stem}-packs-*{target.suffix}"))


def named_files(conn: sqlite3.Connection, target: Path) -> dict[str, Path]:
    """The files the main file names, by schema; none for a file that predates the packs file."""
    try:
        rows = conn.execute("SELECT schema, file FROM main.replica_file").fetchall()
    except sqlite3.OperationalError:
        return {}
    # Only known schema names are attached, and only files beside the main file.
    return {schema: target.with_name(Path(file).name) for schema, file in rows if schema == PACKS_SCHEMA}


def attach_files(conn: sqlite3.Connection, target: Path) -> None:
    """Attach, read-only, the files the replica's main file names; DmdError when one is missing."""
    for schema, path in named_files(conn, target).items():
        if not path.exists():
            raise DmdError(f"{target}: the catalogue's file {path.name} is missing; import the release again.")
        conn.execute(f"ATTACH DATABASE ? AS {schema}", (read_only_uri(path),))


def files_complete(target: Path) -> bool:
    """The main file and every file it names are there."""
    try:
        with contextlib.closing(sqlite3.connect(read_only_uri(target), uri=True)) as conn:
            return all(path.exists() for path in named_files(conn, target).values())
    except sqlite3.DatabaseError:
        return False


def copy_replica(source: Path, target: Path) -> None:
    """Copy a replica, its packs file included, to ``target`` (the packs file goes beside it, same name)."""
    shutil.copyfile(source, target)
    with contextlib.closing(sqlite3.connect(read_only_uri(source), uri=True)) as conn:
        named = named_files(conn, source)
    for path in named.values():
        shutil.copyfile(path, target.with_name(path.name))
