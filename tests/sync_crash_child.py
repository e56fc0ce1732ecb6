"""The process side of tests/test_sync_crash.py: syncs a workstation's database in a process of its own and
kills that process with SIGKILL at a step of the sync.

Started once per test module (``python -m tests.sync_crash_child``), it imports the app and then waits for
commands on stdin, one JSON object a line; for each it forks a process that syncs and dies, waits for it, and
answers one JSON line (how the process ended). Forking a process that has imported everything but opened nothing
makes each kill cost milliseconds instead of a second of imports; each forked process is a real process, its
database connections its own, killed by the kernel with no chance to clean up.

A command: ``{"database": path, "kill_at": k, "log": path, "batch": n, "page": n}`` and, for a power cut,
``"power_cut": folder``. The forked process appends each step of the sync to ``log`` as it is told it, and

* without ``power_cut``: SIGKILLs itself when told step ``k`` (everything committed so far stays);
* with ``power_cut``: when told step ``k``, writes to ``log`` a digest of the database as it stands, lets the next
  write transaction commit, then saves the data folder as the disk would hold it had the power failed during that
  commit (see ``power_cut_copy``) into ``power_cut`` and SIGKILLs itself.

The session secret comes from the file keyring named in the environment (tests/fakes/file_keyring.py), as the OS
keyring would give it to any process of the user.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sync.engine
import sync.pull
import sync.transport
from core.storage.database import Database, open_database
from sync.engine import SyncEngine
from sync.push import next_batch

WAL_HEADER = 32
FRAME_HEADER = 24


def digest(path: Path) -> str:
    """A hash of the whole database's content (every table's rows, in SQL), read through its own connection."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()
    finally:
        connection.close()


def power_cut_copy(database: Path, wal_before: int, target: Path) -> bool:
    """Save ``database`` and its WAL as a disk would hold them after a power cut during the commit that has just
    grown the WAL from ``wal_before`` bytes: every frame of earlier commits (fsynced: the app runs with
    synchronous=FULL) and this commit's frames less its last one, the commit frame, which had not reached the disk.
    No -shm file: it is memory, rebuilt from the WAL on the next open. False when the commit wrote no frames where
    expected (nothing to cut: the WAL was reset)."""
    wal = database.with_name(database.name + "-wal")
    data = wal.read_bytes()
    if len(data) <= max(wal_before, WAL_HEADER):
        return False
    page_size = int.from_bytes(data[8:12], "big")
    frame = FRAME_HEADER + page_size
    start = max(wal_before, WAL_HEADER)
    if (len(data) - start) % frame or (start - WAL_HEADER) % frame:
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database, target / database.name)
    (target / wal.name).write_bytes(data[: len(data) - frame])
    return True


def _wal_size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _sync_and_die(command: dict[str, Any]) -> int:
    path = Path(command["database"])
    log = open(command["log"], "a", encoding="utf-8")  # noqa: SIM115 (open until the process dies)

    def note(line: str) -> None:
        log.write(line + "\n")
        log.flush()

    setattr(sync.engine, "next_batch", partial(next_batch, size=command["batch"]))  # noqa: B010
    sync.pull.PAGE_SIZE = command["page"]
    database = open_database(path)
    engine = SyncEngine(database)
    armed = False
    steps = 0

    def on_step(step: str) -> None:
        nonlocal armed, steps
        steps += 1
        note(f"step {step}")
        if steps == command["kill_at"]:
            if command.get("power_cut"):
                note(f"digest {digest(path)}")
                armed = True
            else:
                os.kill(os.getpid(), signal.SIGKILL)

    if command.get("power_cut"):
        _cut_the_power_after_the_armed_commit(database, path, Path(command["power_cut"]), lambda: armed, note)
    engine.on_step = on_step
    report = engine.sync_now()
    note(f"finished {engine.status.state} {report is not None}")
    return 3


def _cut_the_power_after_the_armed_commit(
    database: Database, path: Path, target: Path, armed: Callable[[], bool], note: Callable[[str], None]
) -> None:
    transaction = database.transaction

    @contextmanager
    def watched() -> Iterator[Any]:
        before = _wal_size(path)
        with transaction() as session:
            yield session
        if armed() and power_cut_copy(path, before, target):
            note("power cut")
            os.kill(os.getpid(), signal.SIGKILL)

    database.transaction = watched  # type: ignore[method-assign]


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _sync_and_die(command)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        killed = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        exited = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        print(json.dumps({"signal": killed, "exit": exited}), flush=True)


if __name__ == "__main__":
    main()
