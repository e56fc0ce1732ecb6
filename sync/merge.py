"""Taking the server's version of a row into the app database (docs/sync.md, "Merge rules" and "Pull").

The server has already merged every workstation's changes by its rules, so a row is taken as the server has it,
unless this workstation has a change to it still waiting to be sent (its own change stands until the server has
answered). Rows are written with SQL, not through the app's services: taking the server's version is not a new
change, so it writes no audit event and queues nothing. Append-only rows are only ever added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.storage.models import LedgerEntry, OutboxEntry, SyncShadow, TokenAccount
from core.users.passwords import NOT_SET_HERE
from sync.duplicates import set_aside_duplicates
from sync.tables import SYNC_TABLES_BY_NAME, SyncTable, TableKind
from sync.values import ServerRow, local_fields, server_fields

# What a row taken from the server gets in the columns that never sync.
_LOCAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "user_account": {"password_hash": NOT_SET_HERE, "pin_hash": None, "failed_sign_ins": 0, "locked_until": None},
    "token_account": {"confirmed_balance": 0, "confirmed_at": None},
    "ledger_entry": {"confirmed": True},
}


def pending_rows(session: Session) -> set[tuple[str, str]]:
    """(table, row id) of every change this workstation has not had answered yet."""
    rows = session.execute(select(OutboxEntry.table, OutboxEntry.row_id).where(OutboxEntry.state == "pending"))
    return {(t, r) for t, r in rows}


class Merger:
    """Merges server rows within one transaction of the app database."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.pending = pending_rows(session)
        self._known: dict[str, set[str]] = {}
        self._accounts: set[str] = set()

    def merge(self, table_name: str, server_row: dict[str, Any]) -> str | None:
        """Take ``server_row`` (its columns plus ``$id`` and ``$updatedAt``); None when merged, else why not."""
        table = SYNC_TABLES_BY_NAME[table_name]
        row_id = str(server_row["$id"])
        if (table_name, row_id) in self.pending:
            return "this workstation has a change to it not yet answered"
        values = local_fields(table, server_row)
        for column, parent in table.parents:
            parent_id = values.get(column)
            if parent_id is not None and not self._exists(parent, str(parent_id)):
                return f"its {parent} {parent_id} is not here yet"
        model = table.model_table
        local = self.session.execute(select(model).where(model.c.id == row_id)).mappings().first()
        if table.unique:
            set_aside_duplicates(self.session, table, row_id, values, server_row, self.now)
        if local is None:
            row = {"id": row_id, **_LOCAL_DEFAULTS.get(table_name, {}), **values}
            self.session.execute(insert(model).values(row))
            self._known.setdefault(table_name, set()).add(row_id)
        elif table.kind is not TableKind.APPEND_ONLY:
            changed = {k: v for k, v in values.items() if local[k] != v}
            if changed:
                self.session.execute(update(model).where(model.c.id == row_id).values(changed))
        if table_name == "ledger_entry":
            self.confirm_ledger([row_id])
        self.remember(table, row_id, server_fields(table, values), str(server_row.get("$updatedAt", "")))
        return None

    def remember(self, table: SyncTable, row_id: str, fields: ServerRow, server_updated_at: str) -> None:
        """The server's version of a row, as the base of this workstation's next change to it."""
        shadow = self.session.get(SyncShadow, (table.name, row_id))
        data = json.dumps(fields, sort_keys=True)
        if shadow is None:
            self.session.add(
                SyncShadow(table=table.name, row_id=row_id, data=data, server_updated_at=server_updated_at)
            )
        else:
            shadow.data = data
            shadow.server_updated_at = server_updated_at or shadow.server_updated_at

    def confirm_ledger(self, entry_ids: Iterable[str]) -> None:
        ids = list(entry_ids)
        if not ids:
            return
        accounts = self.session.execute(select(LedgerEntry.account_id).where(LedgerEntry.id.in_(ids))).scalars()
        self._accounts.update(accounts)
        self.session.execute(
            update(LedgerEntry).where(LedgerEntry.id.in_(ids), LedgerEntry.confirmed.is_(False)).values(confirmed=True)
        )

    def finish(self) -> None:
        """Each account touched: its confirmed balance is what the server holds of its ledger."""
        for account_id in self._accounts:
            total = self.session.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                    LedgerEntry.account_id == account_id, LedgerEntry.confirmed.is_(True)
                )
            ).scalar_one()
            self.session.execute(
                update(TokenAccount)
                .where(TokenAccount.id == account_id)
                .values(confirmed_balance=int(total), confirmed_at=self.now)
            )
        self._accounts.clear()

    def _exists(self, table_name: str, row_id: str) -> bool:
        known = self._known.setdefault(table_name, set())
        if row_id in known:
            return True
        model = SYNC_TABLES_BY_NAME[table_name].model_table
        if self.session.execute(select(model.c.id).where(model.c.id == row_id)).first() is None:
            return False
        known.add(row_id)
        return True
