"""build_replica: a dm+d release (zip or folder, plus an optional bonus release) into a ready SQLite replica.

The replica is built in a new file beside the target, validated, then swapped in with ``os.replace``: until that
moment the previous replica keeps serving, and on any failure it stays untouched and the new file is removed.

The replica is two files (layout.py): the main file and the packs file it names. Both cores are used: a worker
process parses the packs (the biggest release file) into the new packs file and finishes them there (indexes, their
part of the search index, their own checks) while this process parses and finishes the rest in the new main file.
Only the checks that link packs to products are left to run at the end, with the packs file attached. On one core
(a small release, or no second process) this process fills both files itself.
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
from core.dmd.layout import (
    PACK_FILES,
    PACKS_SCHEMA,
    named_files,
    pack_tables,
    packs_file_name,
    packs_files,
    read_only_uri,
)
from core.dmd.loading import Sources, create_database, load_file, row_writer, source_of, storage_error, sync_to_disk
from core.dmd.parse_worker import ParseTask, ParseWorker, ParseWorkerLost, WorkerResult, archive_hashes, load_part
from core.dmd.parser import Columns, ParseStats, Row, RowSink
from core.dmd.progress import Progress, ProgressTracker
from core.dmd.release_info import ReleaseInfo, write_release_info
from core.dmd.schema import RECORD_TYPES, RECORD_TYPES_BY_TABLE, RELEASE_FILES, SCHEMA_VERSION
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
    packs = target.with_name(packs_file_name(target, tag))
    try:
        try:
            result = _build(tmp, part, packs.name, main_src, bonus_src, progress, parallel)
        except ParseWorkerLost as exc:
            # A machine that will not run the second process still gets its catalogue, on one core.
            log.warning("building on one core: %s", exc)
            _remove_build_files(tmp, part)
            result = _build(tmp, part, packs.name, main_src, bonus_src, progress, parallel=False)
        _swap(tmp, part, packs, target)
    finally:
        _remove_build_files(tmp, part)
    _remove_unused_packs(target)
    return result


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
    _remove_unused_packs(target)


def _remove_unused_packs(target: Path) -> None:
    """Packs files the replica no longer names. One still open elsewhere (Windows) goes at the next build."""
    in_use: set[Path] = set()
    if target.exists():
        try:
            with contextlib.closing(sqlite3.connect(read_only_uri(target), uri=True)) as conn:
                in_use = set(named_files(conn, target).values())
        except sqlite3.DatabaseError:
            return  # cannot tell which one it uses: keep them all
    for path in packs_files(target):
        if path not in in_use:
            with contextlib.suppress(OSError):
                path.unlink()


def _build(
    tmp: Path,
    part: Path,
    packs_name: str,
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
    mine, theirs = _split(files)

    started = time.perf_counter()

    def clock() -> float:
        return time.perf_counter() - started

    tracker = ProgressTracker(progress, total_bytes)
    conn = create_database(tmp, ddl.main_file_statements())
    conn.execute("INSERT INTO replica_file (schema, file) VALUES (?, ?)", (PACKS_SCHEMA, packs_name))
    worker: ParseWorker | None = None
    hashes: dict[bool, str] = {}
    hasher = threading.Thread(target=lambda: hashes.update(archive_hashes(sources)), daemon=True)
    syncer: threading.Thread | None = None
    try:
        task = ParseTask(tuple(theirs))
        worker = ParseWorker(part, sources, task) if parallel else None
        if worker is None:
            hasher.start()  # hashlib releases the GIL: hashing overlaps the parse (the worker hashes otherwise)
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
        result = _packs(worker, part, sources, task, tracker)
        log.debug(
            "%.2fs: packs done with %s (CPU: %.2fs parsing, %.2fs finishing)",
            clock(),
            [k for _, k in theirs],
            *result.cpu_seconds,
        )
        for stats in result.stats:
            _merge_stats(counts, warnings, stats)
        warnings += result.warnings
        hashes.update(result.hashes)
        # Let go of the exclusive lock (at the next read): the last checks share out their work with a reader.
        conn.execute("PRAGMA locking_mode = NORMAL")
        conn.commit()  # ATTACH is not allowed inside a transaction
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # Nearly all of the file is written now: it goes to disk while the last checks run, not at the swap.
        syncer = threading.Thread(target=sync_to_disk, args=(tmp,), daemon=True)
        syncer.start()
        conn.execute(f"ATTACH DATABASE ? AS {PACKS_SCHEMA}", (str(part),))
        conn.execute("BEGIN")
        finisher.adopt(pack_tables())  # finished in the packs file; what is left links them to the products
        loaded_counts = {t: n for t, n in counts.items() if _loaded(t, sources)}
        warnings += finisher.finish(loaded_counts, reader=lambda: _reader(tmp, part))
        log.debug("%.2fs: indexed, search-indexed and validated", clock())
        if hasher.is_alive():
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
        conn.execute(f"DETACH DATABASE {PACKS_SCHEMA}")
        conn.execute("PRAGMA optimize")
    except sqlite3.DatabaseError as exc:
        raise storage_error(main_src.label, exc) from exc
    finally:
        conn.close()
        for thread in (hasher, syncer):
            if thread is not None and thread.is_alive():
                thread.join()
        if worker is not None:
            worker.stop()
    return BuildResult(info, {t: n for t, n in counts.items() if _loaded(t, sources)}, warnings)


def _reader(tmp: Path, part: Path) -> sqlite3.Connection:
    """A read-only connection to the new replica's two files, for a check run in a second thread."""
    conn = sqlite3.connect(read_only_uri(tmp), uri=True, check_same_thread=False)
    conn.execute(f"PRAGMA cache_size = {_READER_CACHE}")
    conn.execute(f"ATTACH DATABASE ? AS {PACKS_SCHEMA}", (read_only_uri(part),))
    return conn


_READER_CACHE = -8192  # KiB: enough for its share of one check


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


def _split(files: list[tuple[bool, str]]) -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
    """The main file's release files and the packs file's: the packs are about half of the work of a build."""
    mine = [f for f in files if f[0] or f[1] not in PACK_FILES]
    theirs = [f for f in files if not f[0] and f[1] in PACK_FILES]
    return mine, theirs


def _packs(
    worker: ParseWorker | None, part: Path, sources: Sources, task: ParseTask, tracker: ProgressTracker
) -> WorkerResult:
    """The packs file, finished: by the worker, or here when building on one core."""
    if worker is not None:
        return worker.wait(tracker)
    return load_part(part, sources, task, tracker.add)


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


def _swap(tmp: Path, part: Path, packs: Path, target: Path) -> None:
    """The new packs file under its final (new) name, then the new main file, which names it, into place."""
    for path in (part, tmp):
        sync_to_disk(path)
    os.replace(part, packs)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            packs.unlink()
        raise
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
