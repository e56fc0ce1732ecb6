"""The parse worker: a second process that parses the packs into the replica's packs file (layout.py) and
finishes their tables there (indexes, their part of the search index, the checks that read only them). It has less
to do than the builder, so it also hashes the release archives and syncs its file to disk before it reports.

It is started with ``spawn``, never ``fork``: the GUI process has Qt and threads running, and a forked child could
deadlock. Scripts that build a replica therefore need the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from core.dmd import ddl
from core.dmd.errors import DmdError, ReleaseError
from core.dmd.finishing import Finisher
from core.dmd.loading import Sources, create_database, load_file, row_writer, source_of, storage_error, sync_to_disk
from core.dmd.parser import ParseStats
from core.dmd.progress import ProgressTracker
from core.dmd.schema import record_types_for
from core.dmd.source import locate_release


@dataclass(frozen=True)
class ParseTask:
    """Release files one process parses: (bonus?, file key) pairs."""

    files: tuple[tuple[bool, str], ...]

    @property
    def tables(self) -> set[str]:
        return {rt.table for _, key in self.files for rt in record_types_for(key)}


@dataclass
class WorkerResult:
    stats: list[ParseStats]
    warnings: list[str]  # of the checks it ran
    cpu_seconds: tuple[float, float]  # parsing, finishing: for the builder's debug log
    hashes: dict[bool, str] = field(default_factory=dict)  # SHA-256 of the archives, when this process took them


class ParseWorkerLost(DmdError):
    """The worker process could not start or died without a word (not a problem with the release)."""


class ParseWorker:
    """A second process that parses some release files into a part database of its own."""

    def __init__(self, part: Path, sources: Sources, task: ParseTask) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        locations = {k: (s.location, s.max_uncompressed) if s else None for k, s in sources.items()}
        self._process = ctx.Process(target=_worker_main, args=(part, locations, task, child), daemon=True)
        try:
            self._process.start()
        except (OSError, RuntimeError) as exc:  # no processes allowed, or no importable __main__
            self._conn.close()
            child.close()
            raise ParseWorkerLost(f"the parsing process could not start ({exc})") from exc
        child.close()
        self._result: WorkerResult | None = None
        self._error: str | None = None
        self._lost = False

    def poll(self, tracker: ProgressTracker) -> None:
        while self._result is None and self._error is None and not self._lost and self._conn.poll():
            self._receive(tracker)

    def _receive(self, tracker: ProgressTracker) -> None:
        try:
            kind, payload = self._conn.recv()
        except EOFError:
            self._lost = True
            return
        if kind == "bytes":
            tracker.add(payload)
        elif kind == "done":
            self._result = payload
        else:
            self._error = payload

    def wait(self, tracker: ProgressTracker) -> WorkerResult:
        while self._result is None and self._error is None and not self._lost:
            self._receive(tracker)
        if self._lost:
            raise ParseWorkerLost("the parsing process stopped unexpectedly")
        if self._error is not None:
            raise ReleaseError(self._error)
        assert self._result is not None
        return self._result

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._conn.close()


def load_part(part: Path, sources: Sources, task: ParseTask, on_bytes: Callable[[int], None] | None) -> WorkerResult:
    """Parse ``task``'s files into the new packs file ``part`` and finish them there; the worker's job, and the
    builder's own when it builds on one core."""
    started = time.process_time()
    conn = create_database(part, ddl.packs_file_statements())
    try:
        sink = row_writer(conn)
        stats = [load_file(source_of(sources, b), key, sink, on_bytes) for b, key in task.files]
        parsed = time.process_time()
        main_source = sources[False]
        finisher = Finisher(conn, main_source.label if main_source else "the release")
        finisher.advance(task.tables)
        conn.commit()
    finally:
        conn.close()
    # On disk before the builder swaps it in; the worker does it while the builder is still busy.
    sync_to_disk(part)
    cpu = (parsed - started, time.process_time() - parsed)
    return WorkerResult(stats, finisher.warnings, cpu)


def archive_hashes(sources: Sources) -> dict[bool, str]:
    return {k: s.sha256() for k, s in sources.items() if s is not None}


def _worker_main(part: Path, locations: dict[bool, tuple[Path, int] | None], task: ParseTask, out: Connection) -> None:
    try:
        sources = {
            k: locate_release(loc[0], bonus=k, max_uncompressed=loc[1]) if loc else None for k, loc in locations.items()
        }
        pending = [0]

        def on_bytes(n: int) -> None:
            pending[0] += n
            if pending[0] >= (1 << 20):
                out.send(("bytes", pending[0]))
                pending[0] = 0

        result = load_part(part, sources, task, on_bytes)
        # The archives' hashes too: this process finishes its share of a build before the builder does.
        result.hashes = archive_hashes(sources)
        out.send(("bytes", pending[0]))
        out.send(("done", result))
    except DmdError as exc:
        out.send(("error", str(exc)))
    except sqlite3.DatabaseError as exc:
        main_location = locations[False]
        label = main_location[0].name if main_location else "the release"
        out.send(("error", str(storage_error(label, exc))))
    except Exception as exc:  # reported to the parent as one clear line, never a traceback
        out.send(("error", f"the release could not be read ({exc.__class__.__name__}: {exc})"))
    finally:
        out.close()
