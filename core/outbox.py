"""The outbox: every change the server must receive is queued here in the same transaction as the change."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from core.context import ServiceContext
from core.ids import new_id
from core.storage.models import Base, OutboxEntry
from core.storage.pending_rows import queue_row


def row_payload(row: Base) -> dict[str, Any]:
    """The row's columns as JSON-ready values (decimals and dates as text, so nothing is rounded)."""
    out: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        value = getattr(row, attr.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = format(value, "f")
        out[attr.key] = value
    return out


def enqueue(session: Session, ctx: ServiceContext, row: Base, operation: str = "create") -> str:
    """Queue the row's current state for the server; the outbox row is written with the transaction. Its id."""
    return enqueue_payload(session, ctx, row.__tablename__, row_payload(row), operation)


def enqueue_payload(
    session: Session, ctx: ServiceContext, table: str, payload: dict[str, Any], operation: str = "create"
) -> str:
    """Queue a row given as a dict of its columns (the rows written as plain rows, such as audit events)."""
    entry_id = new_id()
    queue_row(
        session,
        OutboxEntry.__table__,
        {
            "id": entry_id,
            "table_name": table,
            "row_id": str(payload["id"]),
            "operation": operation,
            "payload": json.dumps(payload, separators=(",", ":"), default=_json_value),
            "created_at": ctx.now(),
            "state": "pending",
            "attempts": 0,
            "last_error": None,
            "actor_id": ctx.actor.user_id,
            "attempted_at": None,
        },
    )
    return entry_id


def _json_value(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def outbox_counts(ctx: ServiceContext) -> dict[str, int]:
    """Queued changes by state (pending, sent, rejected): what this workstation has not yet given the server."""
    with ctx.database.reader() as session:
        rows = session.execute(select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state)).all()
        return {state: count for state, count in rows}
