"""Values between the app database and the server: one canonical text for each, so that equal values compare
equal on both sides (a base against the server's value, a pulled row against the local one)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sync.tables import SyncTable

ServerRow = dict[str, Any]


def to_server_value(python: type, value: Any) -> Any:
    """A local value (Python, or as the outbox JSON holds it) as the server keeps it."""
    if value is None:
        return None
    if python is datetime:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    if python is Decimal:
        return format(Decimal(str(value)).normalize(), "f")
    if python is date:
        return value.isoformat() if isinstance(value, date) else date.fromisoformat(str(value)).isoformat()
    if python is bool:
        return bool(value)
    if python is int:
        return int(value)
    return str(value)


def from_server_value(python: type, value: Any) -> Any:
    """A server value as the app database's column takes it."""
    if value is None:
        return None
    if python is datetime:
        return datetime.fromisoformat(str(value)).astimezone(UTC)
    if python is Decimal:
        return Decimal(str(value))
    if python is date:
        return date.fromisoformat(str(value))
    if python is bool:
        return bool(value)
    if python is int:
        return int(value)
    return str(value)


def server_fields(table: SyncTable, row: dict[str, Any]) -> ServerRow:
    """The synced columns of a local row (or an outbox payload), as the server keeps them."""
    return {c.name: to_server_value(c.python, row.get(c.name)) for c in table.columns if c.name in row}


def local_fields(table: SyncTable, server_row: dict[str, Any]) -> dict[str, Any]:
    """The synced columns of a server row, as the app database takes them (missing columns left out)."""
    return {c.name: from_server_value(c.python, server_row[c.name]) for c in table.columns if c.name in server_row}
