"""Taking the server's version of a row into the app database (docs/sync.md, "Merge rules" and "Pull").

The server has already merged every workstation's changes by its rules, so a row is taken as the server has it,
unless this workstation has a change to it still waiting to be sent (its own change stands until the server has
answered). Rows are written with SQL, not through the app's services: taking the server's version is not a new
change, so it writes no audit event and queues nothing. Append-only rows are only ever added.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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


def pending_rows(session: Session, row_ids: Collection[str] | None = None) -> set[tuple[str, str]]:
    """(table, row id) of every change this workstation has not had answered yet (of these rows, if given)."""
    query = select(OutboxEntry.table, OutboxEntry.row_id).where(OutboxEntry.state == "pending")
    if row_ids is None:
        return {(t, r) for t, r in session.execute(query)}
    found: set[tuple[str, str]] = set()
    ids = sorted(set(row_ids))
    for start in range(0, len(ids), 500):  # within SQLite's limit of bound values
        found |= {(t, r) for t, r in session.execute(query.where(OutboxEntry.row_id.in_(ids[start : start + 500])))}
    return found


class Merger:
    """Merges server rows within one transaction of the app database.

    A pull merges a page of rows at a time: ``prefetch`` reads the page's local rows and parents in one query each,
    and the server versions remembered are written together by ``finish`` (through the ORM, each lookup flushed
    the previous row's write first: most of a merge's time).
    """

    def __init__(self, session: Session, now: datetime, row_ids: Collection[str] | None = None) -> None:
        """``row_ids``: the rows that will be merged, if known (their pending changes are all that is read)."""
        self.session = session
        self.now = now
        self.pending = pending_rows(session, row_ids)
        self._to_confirm: list[str] = []  # ledger entries taken, confirmed together by ``finish``
        self._known: dict[str, set[str]] = {}
        self._accounts: set[str] = set()
        self._local: dict[str, dict[str, dict[str, Any]]] = {}  # table -> row id -> row, for the page prefetched
        self._absent: dict[str, set[str]] = {}  # table -> ids of the page known not to be here (until inserted)
        self._shadows: list[dict[str, str]] = []
        self._inserts: list[tuple[Table, dict[str, Any]]] = []  # new rows, written in order by _write_inserts

    def prefetch(self, table_name: str, server_rows: list[dict[str, Any]]) -> None:
        """Read the local versions and the parents of a page of server rows, one query per table."""
        table = SYNC_TABLES_BY_NAME[table_name]
        model = table.model_table
        ids = [str(r["$id"]) for r in server_rows]
        local = {
            str(row["id"]): dict(row)
            for row in self.session.execute(select(model).where(model.c.id.in_(ids))).mappings()
        }
        self._local[table_name] = local
        self._absent[table_name] = {i for i in ids if i not in local}
        for column, parent in table.parents:
            wanted = {str(r[column]) for r in server_rows if r.get(column) is not None}
            known = self._known.setdefault(parent, set())
            wanted -= known
            if wanted:
                parent_model = SYNC_TABLES_BY_NAME[parent].model_table
                found = self.session.execute(select(parent_model.c.id).where(parent_model.c.id.in_(wanted)))
                known.update(str(i) for i in found.scalars())

    def _local_row(self, table_name: str, row_id: str) -> dict[str, Any] | None:
        cached = self._local.get(table_name, {})
        if row_id in cached:
            return cached[row_id]
        if row_id in self._absent.get(table_name, ()):
            return None
        model = SYNC_TABLES_BY_NAME[table_name].model_table
        row = self.session.execute(select(model).where(model.c.id == row_id)).mappings().first()
        return dict(row) if row is not None else None

    def _forget(self, table_name: str, row_ids: Iterable[str]) -> None:
        """Rows changed behind the page's cache (a unique value set aside): read them again when needed."""
        for row_id in row_ids:
            self._local.get(table_name, {}).pop(row_id, None)
            self._absent.get(table_name, set()).discard(row_id)

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
        local = self._local_row(table_name, row_id)
        if table.unique:
            self._forget(table_name, set_aside_duplicates(self.session, table, row_id, values, server_row, self.now))
        if local is None:
            row = {"id": row_id, **_LOCAL_DEFAULTS.get(table_name, {}), **values}
            self._inserts.append((model, row))
            self._known.setdefault(table_name, set()).add(row_id)
            self._absent.get(table_name, set()).discard(row_id)
            self._local.setdefault(table_name, {})[row_id] = row
        elif table.kind is not TableKind.APPEND_ONLY:
            changed = {k: v for k, v in values.items() if local[k] != v}
            if changed:
                self.session.connection().execute(update(model).where(model.c.id == row_id).values(changed))
                local.update(changed)  # a row merged twice here before its insert is written: the insert has it
        if table_name == "ledger_entry":
            self._to_confirm.append(row_id)
        self.remember(table, row_id, server_fields(table, values), str(server_row.get("$updatedAt", "")))
        return None

    def remember(self, table: SyncTable, row_id: str, fields: ServerRow, server_updated_at: str) -> None:
        """The server's version of a row, as the base of this workstation's next change to it (written by
        ``finish``)."""
        self._shadows.append(
            {
                "table": table.name,
                "row_id": row_id,
                "data": json.dumps(fields, sort_keys=True),
                "server_updated_at": server_updated_at,
            }
        )

    def _write_inserts(self) -> None:
        """The new rows, in the order merged (a correction after what it corrects), one statement per run of rows
        of the same table and columns."""
        connection = self.session.connection()
        for (model, _columns), run in groupby(self._inserts, key=lambda entry: (entry[0], tuple(entry[1]))):
            connection.execute(insert(model), [row for _model, row in run])
        self._inserts = []

    def confirm_ledger(self, entry_ids: Iterable[str]) -> None:
        ids = list(entry_ids)
        if not ids:
            return
        self._write_inserts()  # the entries just taken are among them
        accounts = self.session.execute(select(LedgerEntry.account_id).where(LedgerEntry.id.in_(ids))).scalars()
        self._accounts.update(accounts)
        self.session.execute(
            update(LedgerEntry).where(LedgerEntry.id.in_(ids), LedgerEntry.confirmed.is_(False)).values(confirmed=True)
        )

    def finish(self) -> None:
        """The new rows and the server versions remembered are written; each account touched: its confirmed
        balance is what the server holds of its ledger."""
        self.confirm_ledger(self._to_confirm)
        self._to_confirm = []
        self._write_inserts()
        if self._shadows:
            upsert = sqlite_insert(SyncShadow)
            upsert = upsert.on_conflict_do_update(
                index_elements=["table_name", "row_id"],
                set_={
                    "data": upsert.excluded.data,
                    # An answer to a push carries no $updatedAt: the one last seen stays.
                    "server_updated_at": func.coalesce(
                        func.nullif(upsert.excluded.server_updated_at, ""), SyncShadow.server_updated_at
                    ),
                },
            )
            self.session.execute(upsert, self._shadows)
            self._shadows = []
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
