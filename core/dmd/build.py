"""build_replica: a dm+d release (zip or folder, plus an optional bonus release) into a ready SQLite replica.

The replica is built in a new file beside the target, validated, then swapped in with ``os.replace``: until that
moment the previous replica keeps serving, and on any failure it stays untouched and the new file is removed.

Both cores are used: a worker process parses the packs (the biggest file) into a part file of its own and
finishes them there (indexes, their part of the search index, their own checks) while this process parses and
finishes the rest. The worker's tables, indexes and search part are then copied in as stored, inside SQLite
(``INSERT INTO t SELECT * FROM part.t`` between tables and indexes of the same definition moves the stored
records without decoding them), and only the checks that link packs to products are left to run here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.dmd import ddl
from core.dmd.finishing import Finisher
from core.dmd.loading import Sources, create_database, load_file, row_writer, source_of, storage_error
from core.dmd.parse_worker import ParseTask, ParseWorker, ParseWorkerLost
from core.dmd.parser import Columns, ParseStats, Row, RowSink
from core.dmd.progress import Progress, ProgressTracker
from core.dmd.release_info import ReleaseInfo, write_release_info
from core.dmd.schema import RECORD_TYPES, RECORD_TYPES_BY_TABLE, RELEASE_FILES, SCHEMA_VERSION
from core.dmd.search_index import copy_search_part
from core.dmd.source import DEFAULT_MAX_UNCOMPRESSED, ReleaseSource, locate_release

log = logging.getLogger(__name__)
__all__ = ["BuildResult", "Progress", "build_replica"]

# Below this many bytes of XML a second process costs more than it saves.
PARALLEL_THRESHOLD = 8 * 1024**2


@dataclass
class BuildResult:
    info: ReleaseInfo
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def build_replica(
    target: Path,
    main: Path,
    bonus: Path | None = None,
    *,
    progress: Progress | None = None,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
    parallel: bool | None = None,
) -> BuildResult:
    """Build the replica at ``target`` from a release; raises DmdError (with a clear message) on bad input."""
    main_src = locate_release(main, max_uncompressed=max_uncompressed)
    bonus_src = locate_release(bonus, bonus=True, max_uncompressed=max_uncompressed) if bonus else None
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_leftovers(target)
    tag = uuid.uuid4().hex[:8]
    tmp = target.with_name(f".{target.name}.{tag}.building")
    part = target.with_name(f".{target.name}.{tag}.part")
    try:
        try:
            result = _build(tmp, part, main_src, bonus_src, progress, parallel)
        except ParseWorkerLost as exc:
            # A machine that will not run the second process still gets its catalogue, on one core.
            log.warning("building on one core: %s", exc)
            _remove_build_files(tmp, part)
            result = _build(tmp, part, main_src, bonus_src, progress, parallel=False)
        _swap(tmp, target)
        return result
    finally:
        _remove_build_files(tmp, part)


def _remove_build_files(*paths: Path) -> None:
    for path in paths:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()


# A build killed outright (power cut, SIGKILL) cannot clean up after itself; the next one does.
_STALE_AFTER_SECONDS = 3600


def _remove_stale_leftovers(target: Path) -> None:
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.*"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > _STALE_AFTER_SECONDS:
                leftover.unlink()


def _build(
    tmp: Path,
    part: Path,
    main_src: ReleaseSource,
    bonus_src: ReleaseSource | None,
    progress: Progress | None,
    parallel: bool | None,
) -> BuildResult:
    sources = {False: main_src, True: bonus_src}
    files = [(False, rf.key) for rf in RELEASE_FILES if not rf.bonus and main_src.has(rf.key)]
    if bonus_src is not None:
        files += [(True, rf.key) for rf in RELEASE_FILES if rf.bonus and bonus_src.has(rf.key)]
    sizes = {f: source_of(sources, f[0]).size_of(f[1]) for f in files}
    total_bytes = sum(sizes.values())
    if parallel is None:
        parallel = total_bytes >= PARALLEL_THRESHOLD and (os.cpu_count() or 1) > 1
    mine, theirs = _split(files) if parallel else (files, [])

    hashes: dict[bool, str] = {}
    hasher = threading.Thread(target=lambda: hashes.update(_hashes(sources)), daemon=True)
    hasher.start()  # hashlib releases the GIL: hashing the archives overlaps the parse

    started = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - started

    tracker = ProgressTracker(progress, total_bytes)
    conn = create_database(tmp)
    worker: ParseWorker | None = None
    try:
        task = ParseTask(tuple(theirs))
        worker = ParseWorker(part, sources, task) if theirs else None
        counts: dict[str, int] = {rt.table: 0 for rt in RECORD_TYPES}
        warnings: list[str] = []
        finisher = Finisher(conn, main_src.label, tracker.stage)
        sink = _inserter(conn, worker, tracker)
        for is_bonus, key in mine:
            stats = load_file(source_of(sources, is_bonus), key, sink, tracker.add)
            _merge_stats(counts, warnings, stats)
        log.debug("%.2fs: this process parsed %s", clock(), [k for _, k in mine])
        # Index, search-index and check what is here while the worker is still busy with the rest.
        finisher.advance(_tables_of(mine))
        log.debug("%.2fs: finished what it could", clock())
        if worker is not None:
            result = worker.wait(tracker)
            log.debug(
                "%.2fs: worker done with %s (CPU: %.2fs parsing, %.2fs finishing)",
                clock(),
                [k for _, k in theirs],
                *result.cpu_seconds,
            )
            for stats in result.stats:
                _merge_stats(counts, warnings, stats)
            warnings += result.warnings
            _copy_part(conn, part, task.tables, finisher)
            log.debug("%.2fs: worker tables copied", clock())
        loaded_counts = {t: n for t, n in counts.items() if _loaded(t, sources)}
        warnings += finisher.finish(loaded_counts)
        log.debug("%.2fs: indexed, search-indexed and validated", clock())
        hasher.join()
        info = ReleaseInfo(
            name=_strip_zip(main_src.label),
            release_date=main_src.release_date(),
            version=main_src.version(),
            archive_sha256=hashes[False],
            schema_version=SCHEMA_VERSION,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            bonus_name=_strip_zip(bonus_src.label) if bonus_src else None,
            bonus_sha256=hashes.get(True),
        )
        write_release_info(conn, info)
        conn.executemany("INSERT INTO import_warning (file, message) VALUES ('', ?)", [(w,) for w in warnings])
        conn.commit()
        conn.execute("PRAGMA optimize")
    except sqlite3.DatabaseError as exc:
        raise storage_error(main_src.label, exc) from exc
    finally:
        conn.close()
        hasher.join()
        if worker is not None:
            worker.stop()
    return BuildResult(info, {t: n for t, n in counts.items() if _loaded(t, sources)}, warnings)


def _tables_of(files: list[tuple[bool, str]]) -> set[str]:
    keys = {key for _, key in files}
    return {rt.table for rt in RECORD_TYPES if rt.source in keys}


def _loaded(table: str, sources: Sources) -> bool:
    rt = RECORD_TYPES_BY_TABLE[table]
    bonus_keys = {rf.key for rf in RELEASE_FILES if rf.bonus}
    src = sources[rt.source in bonus_keys]
    return src is not None and src.has(rt.source)


def _strip_zip(name: str) -> str:
    return name[:-4] if name.lower().endswith(".zip") else name


# What the worker parses: the packs, about half of the work of a build. This process takes the rest.
WORKER_FILES = ("ampp",)


def _split(files: list[tuple[bool, str]]) -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
    mine = [f for f in files if f[0] or f[1] not in WORKER_FILES]
    theirs = [f for f in files if not f[0] and f[1] in WORKER_FILES]
    return mine, theirs


def _hashes(sources: Sources) -> dict[bool, str]:
    return {k: s.sha256() for k, s in sources.items() if s is not None}


def _merge_stats(counts: dict[str, int], warnings: list[str], stats: ParseStats) -> None:
    for table, n in stats.records.items():
        counts[table] += n
    warnings.extend(stats.warnings)


def _inserter(conn: sqlite3.Connection, worker: ParseWorker | None, tracker: ProgressTracker) -> RowSink:
    insert = row_writer(conn)

    def sink(table: str, columns: Columns, rows: list[Row]) -> None:
        insert(table, columns, rows)
        if worker is not None:
            worker.poll(tracker)

    return sink


def _copy_part(conn: sqlite3.Connection, part: Path, tables: set[str], finisher: Finisher) -> None:
    """Copy the worker's finished tables, their indexes and their search part, as stored."""
    conn.commit()  # ATTACH is not allowed inside a transaction
    conn.execute("ATTACH DATABASE ? AS part", (str(part),))
    conn.execute("BEGIN")
    for table in sorted(tables):
        # The same indexes on the still empty table: SQLite then copies index entries too, already in order.
        for statement in ddl.index_statements(table):
            conn.execute(statement)
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM part.{table}")
    for search_part in finisher.adopt(tables):
        copy_search_part(conn, "part", search_part)
    conn.commit()
    conn.execute("DETACH DATABASE part")
    conn.execute("BEGIN")


def _swap(tmp: Path, target: Path) -> None:
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
