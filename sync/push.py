"""Push: the outbox, in order, in batches, through the ``sync-push`` function (docs/sync.md, "Push").

Each outbox entry becomes an op: a create carries the row; an update of a record carries the fields changed since
the server's version last seen here (``sync_shadow``) and their values in that version (the base); an update of a
state machine carries the row. The server's answer for each op is written back in one transaction: the entry's
state, the inbox for a rejection or a conflict, the shadow, and the server's version of the row where it sent one.
An answer that does not come (the network, a timeout, 401, 429, 5xx) leaves every entry of the batch pending.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from core.ids import new_id
from core.storage.database import Database
from core.storage.models import OutboxEntry, SyncInboxItem, SyncShadow, User
from sync.duplicates import SET_ASIDE, sets_aside
from sync.merge import Merger
from sync.tables import SYNC_TABLES_BY_NAME, TableKind
from sync.values import ServerRow, local_fields, server_fields

BATCH_SIZE = 100  # the most one execution of sync-push takes
SETTLED = frozenset({"applied", "duplicate"})


@dataclass(frozen=True)
class PendingOp:
    entry_id: str
    table: str
    row_id: str
    op: dict[str, Any]
    fields_after: ServerRow  # the row as the server will have it if the op is applied


@dataclass(frozen=True)
class PushAnswer:
    id: str
    status: str  # applied | duplicate | rejected | conflict
    reason: str
    server: dict[str, Any] | None


Send = Callable[[list[dict[str, Any]]], list[PushAnswer]]


def next_batch(database: Database, size: int = BATCH_SIZE) -> list[PendingOp]:
    """The oldest pending entries as ops; an entry the server would refuse to parse is an op all the same."""
    with database.reader() as session:
        entries = list(
            session.execute(
                select(OutboxEntry).where(OutboxEntry.state == "pending").order_by(OutboxEntry.seq).limit(size)
            ).scalars()
        )
        if not entries:
            return []
        fallback_actor = _first_admin(session)
        shadows: dict[tuple[str, str], ServerRow] = {}
        by_table: dict[str, set[str]] = {}
        for entry in entries:
            by_table.setdefault(entry.table, set()).add(entry.row_id)
        for table_name, row_ids in by_table.items():  # by the shadows' key (table, row), not a scan of them all
            query = select(SyncShadow).where(SyncShadow.table == table_name, SyncShadow.row_id.in_(row_ids))
            for shadow in session.execute(query).scalars():
                shadows[(shadow.table, shadow.row_id)] = json.loads(shadow.data)
        batch = []
        for entry in entries:
            key = (entry.table, entry.row_id)
            shadows.setdefault(key, {})
            op, after = _op(entry, shadows[key], fallback_actor)
            shadows[key] = after
            batch.append(PendingOp(entry.id, entry.table, entry.row_id, op, after))
    return batch


def _op(entry: OutboxEntry, shadow: ServerRow, fallback_actor: str) -> tuple[dict[str, Any], ServerRow]:
    payload = json.loads(entry.payload)
    actor = entry.actor_id or (payload.get("user_id") if entry.table == "audit_event" else None) or fallback_actor
    table = SYNC_TABLES_BY_NAME.get(entry.table)
    if table is None:  # not a synced table: sent as it is, the server says what it thinks of it
        return {"id": entry.id, "table": entry.table, "row": entry.row_id, "op": entry.operation,
                "actor": actor, "data": payload, "base": None}, {}  # fmt: skip
    fields = server_fields(table, payload)
    data: ServerRow = fields
    base: ServerRow | None = None
    if entry.operation == "update" and table.kind is TableKind.RECORD:
        data = {k: v for k, v in fields.items() if shadow.get(k, object()) != v}
        base = {k: shadow.get(k) for k in data if k not in table.no_conflict} if shadow else None
    op = {"id": entry.id, "table": entry.table, "row": entry.row_id, "op": entry.operation, "actor": actor,
          "data": data, "base": base}  # fmt: skip
    return op, {**shadow, **fields}


def _first_admin(session: Session) -> str:
    """Who made the changes queued before outbox entries said so (schema 0003): the installation's first admin."""
    row = session.execute(select(User.id).where(User.role == "admin").order_by(User.created_at).limit(1)).first()
    return row[0] if row else ""


def record_answers(
    database: Database, batch: list[PendingOp], answers: list[PushAnswer], now: datetime
) -> dict[str, int]:
    """Write the server's answers back in one transaction; returns how many of each status."""
    by_id = {a.id: a for a in answers}
    tally: dict[str, int] = {}
    with database.transaction() as session:
        settled = []
        # One statement for the batch's entries.
        outbox = cast(Table, OutboxEntry.__table__)
        session.connection().execute(
            update(outbox)
            .where(outbox.c.id == bindparam("entry_id"))
            .values(state=bindparam("state"), last_error=bindparam("error"), attempted_at=bindparam("at")),
            [
                {
                    "entry_id": p.entry_id,
                    "state": by_id[p.entry_id].status,
                    "error": by_id[p.entry_id].reason or None,
                    "at": now,
                }
                for p in batch
            ],
        )
        for pending in batch:
            answer = by_id[pending.entry_id]
            tally[answer.status] = tally.get(answer.status, 0) + 1
            if answer.status in SETTLED:
                settled.append(pending)
            else:
                session.add(
                    SyncInboxItem(
                        id=new_id(),
                        outbox_id=pending.entry_id,
                        table=pending.table,
                        row_id=pending.row_id,
                        kind=_inbox_kind(pending, answer),
                        reason=answer.reason or "The server did not say why.",
                        mine=json.dumps(pending.op.get("data"), sort_keys=True),
                        server=json.dumps(answer.server, sort_keys=True) if answer.server else None,
                        created_at=now,
                        resolved_at=None,
                        resolution=None,
                    )
                )
        session.flush()
        # The server's versions in the answers (read with the pending set after the states above), less those
        # that say what the change itself said: remembered as settled below, nothing more to take.
        servers: list[dict[str, Any]] = []
        for pending in batch:
            answer = by_id[pending.entry_id]
            if answer.server is not None and _to_merge(pending, answer):
                servers.append(answer.server)
        merger = Merger(session, now, [str(server["$id"]) for server in servers])
        for pending in settled:
            table = SYNC_TABLES_BY_NAME.get(pending.table)
            if table is not None:
                merger.remember(table, pending.row_id, pending.fields_after, "")
        merger.confirm_ledger(p.row_id for p in settled if p.table == "ledger_entry")
        # The server's version stands: take it here too (the local rows and parents read a table at a time).
        by_table: dict[str, list[dict[str, Any]]] = {}
        for server in servers:
            by_table.setdefault(server["$tableId"], []).append(server)
        for table_name, rows in by_table.items():
            merger.prefetch(table_name, rows)
        for server in servers:
            merger.merge(server["$tableId"], server)
        merger.finish()
    return tally


def _to_merge(pending: PendingOp, answer: PushAnswer) -> bool:
    server = answer.server
    if not server or not isinstance(server.get("$tableId"), str) or server["$tableId"] not in SYNC_TABLES_BY_NAME:
        return False
    table = SYNC_TABLES_BY_NAME[server["$tableId"]]
    as_sent = answer.status in SETTLED and (table.name, str(server.get("$id"))) == (pending.table, pending.row_id)
    return not (as_sent and server_fields(table, local_fields(table, server)) == pending.fields_after)


def _inbox_kind(pending: PendingOp, answer: PushAnswer) -> str:
    if answer.status == "conflict":
        table = SYNC_TABLES_BY_NAME.get(pending.table)
        if table is not None and answer.server and sets_aside(table, pending.op.get("data") or {}, answer.server):
            return SET_ASIDE
        return "conflict"
    return "rejected"


def mark_attempt(database: Database, batch: list[PendingOp], error: str, now: datetime) -> None:
    """The batch got no answer: every entry stays pending, with the error and the time of the attempt."""
    with database.transaction() as session:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_([p.entry_id for p in batch]))
            .values(attempts=OutboxEntry.attempts + 1, last_error=error, attempted_at=now)
        )
