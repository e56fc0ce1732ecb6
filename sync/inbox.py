"""The sync inbox: this workstation's changes the server rejected or found in conflict, until someone deals with
them. A conflict over a record's fields keeps the losing values here; restoring them is one action (a new change
whose base is the server's current version, so it is applied)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import NotFound, ValidationError
from core.outbox import enqueue_payload
from core.storage.models import SyncInboxItem
from core.users.roles import Permission, require
from sync.tables import SYNC_TABLES_BY_NAME, TableKind
from sync.values import from_server_value


@dataclass(frozen=True)
class InboxItem:
    id: str
    table: str
    row_id: str
    kind: str  # rejected | conflict | set aside (sync/duplicates.py)
    reason: str
    mine: dict[str, Any]
    server: dict[str, Any] | None
    created_at: datetime
    restorable: bool  # a record's fields: "restore mine" puts them back


def _item(row: SyncInboxItem) -> InboxItem:
    table = SYNC_TABLES_BY_NAME.get(row.table)
    restorable = row.kind == "conflict" and table is not None and table.kind is TableKind.RECORD
    return InboxItem(
        row.id,
        row.table,
        row.row_id,
        row.kind,
        row.reason,
        json.loads(row.mine),
        json.loads(row.server) if row.server else None,
        row.created_at,
        restorable,
    )


def open_items(ctx: ServiceContext) -> list[InboxItem]:
    """What nobody has dealt with yet, newest first."""
    require(ctx, Permission.VIEW_PATIENTS)
    with ctx.database.reader() as session:
        rows = session.execute(
            select(SyncInboxItem).where(SyncInboxItem.resolved_at.is_(None)).order_by(SyncInboxItem.created_at.desc())
        ).scalars()
        return [_item(r) for r in rows]


def dismiss(ctx: ServiceContext, item_id: str) -> None:
    """Seen and accepted as the server has it."""
    with ctx.database.transaction() as session:
        row = _open(session, item_id)
        row.resolved_at, row.resolution = ctx.now(), "dismissed"
        record_event(session, ctx, "sync.inbox_dismiss", row.table, row.row_id, after={"reason": row.reason})


def restore(ctx: ServiceContext, item_id: str) -> None:
    """Put this workstation's losing values back, as a new change (queued for the server like any other)."""
    with ctx.database.transaction() as session:
        row = _open(session, item_id)
        item = _item(row)
        table = SYNC_TABLES_BY_NAME.get(row.table)
        if not item.restorable or table is None:
            raise ValidationError("Only a conflict over a record's fields can be restored; dismiss this one.")
        require(ctx, _permission(row.table))
        model = table.model_table
        local = session.execute(select(model).where(model.c.id == row.row_id)).mappings().first()
        if local is None:
            raise NotFound(f"The {row.table} {row.row_id} is no longer on this workstation.")
        types = {c.name: c.python for c in table.columns}
        values = {k: from_server_value(types[k], v) for k, v in item.mine.items() if k in types}
        before = {k: local[k] for k in values}
        session.execute(update(model).where(model.c.id == row.row_id).values(values))
        after = dict(session.execute(select(model).where(model.c.id == row.row_id)).mappings().one())
        public = {k: v for k, v in after.items() if k not in table.local_only}  # hashes never leave
        enqueue_payload(session, ctx, row.table, public, "update")
        record_event(
            session,
            ctx,
            "sync.inbox_restore",
            row.table,
            row.row_id,
            before=_jsonable(before),
            after=_jsonable(values),
        )
        row.resolved_at, row.resolution = ctx.now(), "restored"


def _open(session: Any, item_id: str) -> SyncInboxItem:
    row = session.get(SyncInboxItem, item_id)
    if row is None or row.resolved_at is not None:
        raise NotFound("That inbox item has been dealt with already.")
    return row  # type: ignore[no-any-return]


_PERMISSIONS = {
    "patient": Permission.EDIT_PATIENTS,
    "allergy": Permission.RECORD_ALLERGIES,
    "organisation": Permission.MANAGE_USERS,
    "user_account": Permission.MANAGE_USERS,
    "token_account": Permission.MANAGE_TOKENS,
}


def _permission(table: str) -> Permission:
    return _PERMISSIONS[table]


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))  # type: ignore[no-any-return]
