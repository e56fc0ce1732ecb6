"""What syncs: one table-driven description of the synced tables, read by the push, the pull, the merge, the
server configuration (backend/appwrite.config.json) and the gateway's rules (backend/functions/sync-push).

Columns come from the app's SQLAlchemy models, less the ones that never leave a workstation (password hashes,
sign-in state, what this workstation has confirmed). docs/sync.md is the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, Integer, String, Text
from sqlalchemy.sql.schema import Column, Table

from core.storage import models
from core.storage.types import DecimalText, UtcDateTime


class TableKind(StrEnum):
    APPEND_ONLY = "append-only"  # created once, never changed
    STATE_MACHINE = "state-machine"  # created, then only its status moves forward
    RECORD = "record"  # created, then updated field by field


class ColumnType(StrEnum):
    """Appwrite column types (TablesDB)."""

    VARCHAR = "varchar"
    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class SyncColumn:
    name: str
    kind: ColumnType
    size: int | None  # varchar only
    required: bool
    python: type  # the model's Python type: how a server value becomes a local one


@dataclass(frozen=True)
class SyncTable:
    name: str
    kind: TableKind
    # Local-only columns: never sent, never taken from the server.
    local_only: frozenset[str] = frozenset()
    # (column, parent table): the parent row must exist first (locally and on the server).
    parents: tuple[tuple[str, str], ...] = ()
    status_column: str | None = None  # state machines
    pull: bool = True  # False: the server keeps it, workstations do not take each other's (audit events)
    columns: tuple[SyncColumn, ...] = field(default=(), compare=False)
    # Bookkeeping fields of a record that every change touches: the latest write takes them, never a conflict.
    no_conflict: frozenset[str] = frozenset({"updated_at"})
    # Columns no two rows of a team share (unique locally too): the gateway refuses a second row with the value,
    # and a pulled row whose value only this workstation's own row holds takes it (sync/duplicates.py).
    unique: tuple[str, ...] = ()

    @property
    def model_table(self) -> Table:
        return models.Base.metadata.tables[self.name]

    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# Status order of the state machines: a status only moves to a later rank; final statuses share the last rank.
STATUS_RANKS: dict[str, dict[str, int]] = {
    "prescription": {"draft": 0, "signed": 1, "partially dispensed": 2, "dispensed": 3, "cancelled": 3, "expired": 3},
    # pending → owing (part supplied, the rest owed) → supplied, or cancelled or expired (nothing more supplied)
    "prescription_item": {"pending": 0, "owing": 1, "supplied": 2, "cancelled": 2, "expired": 2},
    # open → ready (stock arrived, the patient told) → supplied, or expired or cancelled from either
    "owing": {"open": 0, "ready": 1, "supplied": 2, "expired": 2, "cancelled": 2},
}

_TABLES = (
    SyncTable("organisation", TableKind.RECORD),
    SyncTable(
        "user_account",
        TableKind.RECORD,
        local_only=frozenset({"password_hash", "pin_hash", "failed_sign_ins", "locked_until"}),
        parents=(("organisation_id", "organisation"),),
        unique=("username",),
    ),
    SyncTable(
        "patient",
        TableKind.RECORD,
        parents=(("organisation_id", "organisation"), ("consent_by", "user_account")),
        unique=("nhs_number",),
    ),
    SyncTable("allergy", TableKind.RECORD, parents=(("patient_id", "patient"), ("recorded_by", "user_account"))),
    SyncTable(
        "token_account",
        TableKind.RECORD,
        local_only=frozenset({"confirmed_balance", "confirmed_at"}),
        unique=("owner_id",),
    ),
    SyncTable(
        "prescription",
        TableKind.STATE_MACHINE,
        parents=(("organisation_id", "organisation"), ("patient_id", "patient"), ("prescriber_id", "user_account")),
        status_column="status",
    ),
    SyncTable(
        "prescription_item",
        TableKind.STATE_MACHINE,
        parents=(("prescription_id", "prescription"),),
        status_column="status",
    ),
    SyncTable(
        "rule_override",
        TableKind.APPEND_ONLY,
        parents=(("prescription_id", "prescription"), ("item_id", "prescription_item"), ("user_id", "user_account")),
    ),
    SyncTable(
        "dispensing",
        TableKind.APPEND_ONLY,
        parents=(
            ("prescription_id", "prescription"),
            ("organisation_id", "organisation"),
            ("pharmacist_id", "user_account"),
        ),
    ),
    SyncTable("owing", TableKind.STATE_MACHINE, parents=(("item_id", "prescription_item"),), status_column="status"),
    SyncTable(
        "dispensing_line",
        TableKind.APPEND_ONLY,
        parents=(("dispensing_id", "dispensing"), ("item_id", "prescription_item"), ("owing_id", "owing")),
    ),
    SyncTable(
        "cd_register_entry",
        TableKind.APPEND_ONLY,
        parents=(
            ("organisation_id", "organisation"),
            ("corrects_id", "cd_register_entry"),
            ("entered_by", "user_account"),
        ),
    ),
    SyncTable(
        "ledger_entry",
        TableKind.APPEND_ONLY,
        local_only=frozenset({"confirmed"}),
        parents=(("account_id", "token_account"), ("corrects_id", "ledger_entry")),
    ),
    # Each workstation's trail is a hash chain of its own: the server keeps every one, workstations keep theirs.
    SyncTable("audit_event", TableKind.APPEND_ONLY, local_only=frozenset({"seq"}), pull=False),
)


def _column(column: Column[object]) -> SyncColumn:
    sql_type = column.type
    required = not column.nullable
    if isinstance(sql_type, UtcDateTime):
        # As the app's ISO text to the microsecond: a datetime column would keep milliseconds only.
        return SyncColumn(column.key, ColumnType.VARCHAR, 32, required, datetime)
    if isinstance(sql_type, DecimalText):
        # Kept as text, so a quantity such as 2.5 ml is never rounded by a float on its way.
        return SyncColumn(column.key, ColumnType.VARCHAR, 40, required, Decimal)
    if isinstance(sql_type, Date):
        return SyncColumn(column.key, ColumnType.VARCHAR, 10, required, date)
    if isinstance(sql_type, Boolean):
        return SyncColumn(column.key, ColumnType.BOOLEAN, None, required, bool)
    if isinstance(sql_type, Integer):
        return SyncColumn(column.key, ColumnType.INTEGER, None, required, int)
    if isinstance(sql_type, Text):
        return SyncColumn(column.key, ColumnType.TEXT, None, required, str)
    if isinstance(sql_type, String):
        return SyncColumn(column.key, ColumnType.VARCHAR, sql_type.length or 255, required, str)
    raise TypeError(f"no Appwrite column type for {column} ({sql_type!r})")


def _described(table: SyncTable) -> SyncTable:
    model = models.Base.metadata.tables[table.name]
    # The local id is the server row's $id, not a column of its own.
    columns = tuple(_column(c) for c in model.columns if c.key not in table.local_only and c.key != "id")
    return replace(table, columns=columns)


SYNC_TABLES: tuple[SyncTable, ...] = tuple(_described(t) for t in _TABLES)
SYNC_TABLES_BY_NAME = {t.name: t for t in SYNC_TABLES}
