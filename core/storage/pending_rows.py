"""Rows written in bulk when a transaction flushes: audit events and outbox entries.

Each signing or dispensing appends several of both. As ORM objects each would be its own INSERT with RETURNING
(their integer ``seq`` key is made by SQLite); queued here they go in one executemany per table, in the order they
were queued, just before the session's next flush or its commit, so they are written in the same transaction and
seen by any later query in it.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import FromClause, Table, event, insert
from sqlalchemy.orm import Session

_KEY = "pending_rows"


def queue_row(session: Session, table: FromClause, row: dict[str, Any]) -> None:
    session.info.setdefault(_KEY, {}).setdefault(cast(Table, table), []).append(row)


def queue_object(session: Session, obj: Any) -> None:
    """Queue a new (transient) model instance as a plain row: its every column, as set on it."""
    table = obj.__table__
    queue_row(session, table, {c.key: getattr(obj, c.key) for c in table.columns})


def write_pending_rows(session: Session) -> None:
    if _KEY not in session.info:
        return
    pending: dict[Table, list[dict[str, Any]]] = session.info.pop(_KEY, {})
    for table, rows in pending.items():
        session.connection().execute(insert(table), rows)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: object, _instances: object) -> None:
    write_pending_rows(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending_rows(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _before_query(state: Any) -> None:
    # A query with only queued rows pending (no ORM change, so no autoflush) must still see them.
    if state.session.info.get(_KEY) and state.is_select:
        write_pending_rows(state.session)
