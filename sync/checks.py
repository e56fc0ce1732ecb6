"""After each sync: does this workstation hold what the server holds? (docs/sync.md, "After each sync")

The gateway counts the team's rows per table and hashes its token ledger; this workstation counts the rows it
knows the server has (its shadows) and hashes the same ledger lines. A table that differs is pulled whole again;
rows this workstation had sent that the server no longer has (a server restored from a backup) are queued again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from appwrite.query import Query
from sqlalchemy import func, select

from core.ids import new_id
from core.storage.database import Database
from core.storage.models import OutboxEntry, SyncShadow
from sync.pull import TEAM_COLUMN, ListRows, reset_watermark
from sync.tables import SYNC_TABLES, SYNC_TABLES_BY_NAME

LEDGER = "ledger_entry"


@dataclass
class CheckReport:
    mismatched: list[str] = field(default_factory=list)  # tables pulled whole again
    requeued: int = 0  # rows sent again: the server had lost them


def local_summary(database: Database) -> dict[str, Any]:
    with database.reader() as session:
        counts = dict(session.execute(select(SyncShadow.table, func.count()).group_by(SyncShadow.table)).tuples().all())
        ledger = session.execute(select(SyncShadow.row_id, SyncShadow.data).where(SyncShadow.table == LEDGER))
        lines = sorted(f"{row_id}:{json.loads(data).get('amount')}" for row_id, data in ledger)
    return {
        "counts": {t.name: counts.get(t.name, 0) for t in SYNC_TABLES if t.pull},
        "ledgerHash": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
    }


def compare(server: dict[str, Any], local: dict[str, Any]) -> list[str]:
    """Tables that differ: their counts, or the ledger's hash."""
    differ = [t for t, n in local["counts"].items() if server.get("counts", {}).get(t) != n]
    if server.get("ledgerHash") != local["ledgerHash"] and LEDGER not in differ:
        differ.append(LEDGER)
    return differ


def server_ids(team: str, table: str, list_rows: ListRows) -> set[str]:
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        queries = [Query.equal(TEAM_COLUMN, [team]), Query.select(["$id"]), Query.order_asc("$id"), Query.limit(500)]
        rows = list_rows(table, queries + ([Query.cursor_after(cursor)] if cursor else []))
        ids.update(str(r["$id"]) for r in rows)
        if len(rows) < 500:
            return ids
        cursor = str(rows[-1]["$id"])


def requeue_missing(
    database: Database, table: str, on_server: set[str], fallback_actor: str, now: Callable[[], datetime]
) -> int:
    """Rows the server should have (this workstation saw them there) but has not: queue them to be created again."""
    model = SYNC_TABLES_BY_NAME[table].model_table
    requeued = 0
    with database.transaction() as session:
        known = set(session.execute(select(SyncShadow.row_id).where(SyncShadow.table == table)).scalars())
        for row_id in sorted(known - on_server):
            local = session.execute(select(model).where(model.c.id == row_id)).mappings().first()
            shadow = session.get(SyncShadow, (table, row_id))
            if shadow is not None:
                session.delete(shadow)
            if local is None:
                continue
            payload = dict(local)
            session.add(
                OutboxEntry(
                    id=new_id(),
                    table=table,
                    row_id=row_id,
                    operation="create",
                    payload=json.dumps(payload, default=_json_default),
                    created_at=now(),
                    state="pending",
                    attempts=0,
                    actor_id=fallback_actor or None,
                )
            )
            requeued += 1
    return requeued


def _json_default(value: Any) -> str:
    return str(value.isoformat() if hasattr(value, "isoformat") else value)


def reconcile(
    database: Database,
    team: str,
    server: dict[str, Any],
    list_rows: ListRows,
    fallback_actor: str,
    now: Callable[[], datetime],
) -> CheckReport:
    report = CheckReport()
    local = local_summary(database)
    for table in compare(server, local):
        report.mismatched.append(table)
        reset_watermark(database, table)
        if local["counts"].get(table, 0) > server.get("counts", {}).get(table, 0):
            report.requeued += requeue_missing(database, table, server_ids(team, table, list_rows), fallback_actor, now)
    return report
