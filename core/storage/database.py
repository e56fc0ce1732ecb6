"""Open the app database: pragmas for durability, write transactions, and schema upgrades on open.

Writes start with ``BEGIN IMMEDIATE`` so two writers never deadlock halfway through a transaction (SQLite would
otherwise upgrade a read lock to a write lock at the first write, and fail with "database is locked"). Readers
start a plain deferred transaction: in WAL mode they neither wait for a writer nor hold one up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import RxDeskError
from core.storage import pending_rows  # noqa: F401  (registers the bulk writes of audit and outbox rows)
from core.storage.migrations import NewerDatabaseError, upgrade_to_head

APP_DATABASE_NAME = "rxdesk.sqlite"
_WRITE = "rxdesk_write"  # execution option of write transactions


class Database:
    """The app database: one engine, sessions that are transactions."""

    def __init__(self, path: Path, engine: Engine) -> None:
        self.path = path
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back entirely on any error. SQLite's own failures
        (locked by another program past the busy timeout, disk full, a constraint) become one clear RxDeskError."""
        try:
            with self._sessions() as session, session.begin():
                session.connection(execution_options={_WRITE: True})  # BEGIN IMMEDIATE (see _on_begin)
                yield session
        except IntegrityError as exc:
            raise RxDeskError(
                f"Nothing was saved: the change conflicts with a record already in the database ({exc.orig})."
            ) from exc
        except OperationalError as exc:
            raise RxDeskError(f"Nothing was saved: the database could not be written ({exc.orig}). Try again.") from exc

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only look: a deferred transaction, so readers never wait for writers (WAL) or block them."""
        with self._sessions() as session:
            yield session  # closing the session ends the transaction; loaded rows stay readable

    def close(self) -> None:
        self.engine.dispose()


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun explicitly (see _on_begin)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # clinical records must survive a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _on_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def create_app_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def open_database(path: Path) -> Database:
    """Open (creating if needed) and upgrade the app database. Raises RxDeskError with a clear message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_app_engine(path)
    try:
        upgrade_to_head(engine)
    except DatabaseError as exc:
        engine.dispose()
        raise RxDeskError(f"{path}: the app database cannot be opened ({exc.orig}).") from exc
    except NewerDatabaseError as exc:  # a revision this version does not have: the file comes from a newer RxDesk
        engine.dispose()
        raise RxDeskError(f"{path} was written by a newer version of RxDesk: update RxDesk to open it.") from exc
    return Database(path, engine)
