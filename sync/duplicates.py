"""A pulled row that takes a value only one row of the organisation may hold (an NHS number, a user name, a token
account's owner) from a row of this workstation: the server's row wins, this workstation's row sets the value aside.

The gateway refuses a second row with such a value (``SyncTable.unique``), so the local holder is a row the server
refused (two workstations registered the same patient while offline) or never had. Taking the server's row must not
fail: that would stop every sync of this workstation for good. So the local row keeps everything but that value,
and the sync inbox says what happened, with both versions, for someone to compare and keep one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.ids import new_id
from core.storage.models import OutboxEntry, SyncInboxItem
from sync.tables import SyncTable
from sync.values import server_fields

SET_ASIDE = "set aside"  # the inbox kind (not "duplicate": in the protocol that is a change delivered twice)

# What the inbox says, by (table, column); {value} is the contested value, {kept} what this workstation's row has now.
_REASONS = {
    ("patient", "nhs_number"): "Another patient record of the organisation, from the server, has NHS number {value}. "
    "This record is kept here without the number: compare the two in Patients and keep one.",
    ("user_account", "username"): "Another user of the organisation, from the server, has the user name {value}. "
    "This workstation's user now signs in as {kept}.",
    ("token_account", "owner_id"): "The server has another token account for the same clinic, pharmacy or "
    "prescriber; that one is used from now on, and this workstation's is kept apart as {kept}.",
}


def set_aside_duplicates(
    session: Session, table: SyncTable, row_id: str, values: dict[str, Any], server_row: dict[str, Any], now: datetime
) -> list[str]:
    """Before the server's row ``row_id`` is written: free each unique value it has from any other local row. The
    ids of the local rows changed."""
    model = table.model_table
    changed: list[str] = []
    for column in table.unique:
        value = values.get(column)
        if value is None:
            continue
        holder = session.execute(select(model).where(model.c[column] == value, model.c.id != row_id)).mappings().first()
        if holder is None:
            continue
        # A column that may be empty is emptied; one that may not gets a value no other row has.
        kept = None if model.c[column].nullable else f"{value}~{holder['id'][-6:]}"
        session.execute(update(model).where(model.c.id == holder["id"]).values({column: kept}))
        changed.append(str(holder["id"]))
        session.add(
            SyncInboxItem(
                id=new_id(),
                outbox_id=_last_change(session, table.name, holder["id"]),
                table=table.name,
                row_id=holder["id"],
                kind=SET_ASIDE,
                reason=_REASONS.get(
                    (table.name, column), "Another {table} of the organisation has {column} {value}; kept as {kept}."
                ).format(table=table.name, column=column, value=value, kept=kept),
                mine=json.dumps(server_fields(table, dict(holder)), sort_keys=True),
                server=json.dumps({**server_fields(table, values), "$id": server_row.get("$id")}, sort_keys=True),
                created_at=now,
                resolved_at=None,
                resolution=None,
            )
        )
    return changed


def sets_aside(table: SyncTable, mine: dict[str, Any], server: dict[str, Any]) -> bool:
    """Whether the server's answer to this workstation's row differs from it only by unique values the gateway set
    aside (another row of the organisation holds them): shown as such, and nothing to restore."""
    differs = {k for k, v in mine.items() if k in server and server[k] != v and k not in table.no_conflict}
    return bool(differs) and differs <= set(table.unique)


def _last_change(session: Session, table: str, row_id: str) -> str:
    """The outbox entry of the local row's latest change (the inbox links each item to one)."""
    entry = session.execute(
        select(OutboxEntry.id)
        .where(OutboxEntry.table == table, OutboxEntry.row_id == row_id)
        .order_by(OutboxEntry.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return entry or new_id()
