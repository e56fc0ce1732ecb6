"""The replica of a data directory: build or replace it, and make sure a usable one exists.

The release zips a replica was built from are kept beside it (``releases/``), so that a newer RxDesk whose replica
schema differs can rebuild the same catalogue on start, offline, instead of falling back to the demo release.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from pathlib import Path

from core.dmd.build import BuildResult, Progress, build_replica
from core.dmd.layout import files_complete, read_only_uri
from core.dmd.schema import SCHEMA_VERSION
from core.paths import demo_release, replica_path

RELEASES_DIR = "releases"


def import_release(data: Path, main: Path, bonus: Path | None = None, progress: Progress | None = None) -> BuildResult:
    """Build the replica of ``data`` from a release; the previous one keeps serving until the swap."""
    result = build_replica(replica_path(data), main, bonus, progress=progress)
    try:
        _keep_release_archives(data, [p for p in (main, bonus) if p is not None])
    except OSError as exc:  # the new catalogue is in place; only the offline rebuild copy is missing
        result.warnings.append(f"could not keep a copy of the release in {data / RELEASES_DIR} ({exc})")
    return result


def replica_is_current(path: Path) -> bool:
    """True when a replica exists and was built with this version's schema."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(read_only_uri(path), uri=True)) as conn:
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                return False
    except sqlite3.DatabaseError:
        return False
    return files_complete(path)


def kept_release(data: Path) -> tuple[Path, Path | None] | None:
    folder = data / RELEASES_DIR
    main = sorted(folder.glob("nhsbsa_dmd_*.zip"))
    if not main:
        return None
    bonus = sorted(folder.glob("nhsbsa_dmdbonus_*.zip"))
    return main[-1], (bonus[-1] if bonus else None)


def ensure_replica(data: Path, progress: Progress | None = None) -> BuildResult | None:
    """Make sure a current replica exists: rebuild from the kept release, else from the bundled demo release.

    Returns None when nothing had to be built.
    """
    if replica_is_current(replica_path(data)):
        return None
    main, bonus = kept_release(data) or demo_release()
    return import_release(data, main, bonus, progress)


def _keep_release_archives(data: Path, sources: list[Path]) -> None:
    """Keep copies of the zips just installed (not of extracted folders) and drop older ones."""
    zips = [p for p in sources if p.is_file()]
    if not zips:
        return
    folder = data / RELEASES_DIR
    folder.mkdir(exist_ok=True)
    for source in zips:
        kept = folder / source.name
        if kept.exists() or source.resolve().parent == folder.resolve():
            continue
        tmp = folder / f".{source.name}.copying"
        shutil.copyfile(source, tmp)
        os.replace(tmp, kept)
    names = {p.name for p in zips}
    for old in folder.glob("*.zip"):
        if old.name not in names:
            old.unlink()
