"""Plain SQL reads for the hot paths (signing, dispensing): the ORM's per-query cost is several times SQLite's.

Only for reads of a few columns whose values need no conversion beyond what the caller does; writes go through
the models, so the ORM stays the one way rows are made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Dialect, FromClause, Table
from sqlalchemy.orm import Session

from core.storage.pending_rows import write_pending_rows


def _visible(session: Session) -> Any:
    """The connection, with any rows queued in this transaction written first, so plain reads see them too."""
    write_pending_rows(session)
    return session.connection()


def fetch_all(session: Session, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in _visible(session).exec_driver_sql(sql, tuple(params))]


def fetch_one(session: Session, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    row = _visible(session).exec_driver_sql(sql, tuple(params)).first()
    return None if row is None else tuple(row)


@lru_cache(maxsize=64)
def _columns(table: Table, dialect: Dialect) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    # dialect_impl: the SQLite form of each type (SQLite keeps dates as text; its Date type parses them).
    return tuple((c.key, c.type.dialect_impl(dialect).result_processor(dialect, None)) for c in table.columns)


@lru_cache(maxsize=256)
def _binder(table: Table, column: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    return cast(Callable[[Any], Any] | None, table.c[column].type.dialect_impl(dialect).bind_processor(dialect))


def select_rows(session: Session, table: FromClause, where: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Whole rows of a model's table as dicts of Python values (dates, decimals...), by a plain SQL condition."""
    conn = _visible(session)
    columns = _columns(cast(Table, table), conn.dialect)
    names = ", ".join(f'"{name}"' for name, _ in columns)
    rows = conn.exec_driver_sql(f"SELECT {names} FROM {cast(Table, table).name} WHERE {where}", tuple(params))
    return [
        {name: (convert(value) if convert and value is not None else value) for (name, convert), value in zip(
            columns, row, strict=True)}
        for row in rows
    ]  # fmt: skip


def update_row(session: Session, table: FromClause, row_id: str, values: dict[str, Any]) -> None:
    """UPDATE one row by id, values converted as the columns' types store them."""
    conn = session.connection()
    target = cast(Table, table)
    params = []
    for column, value in values.items():
        bind = _binder(target, column, conn.dialect)
        params.append(bind(value) if bind and value is not None else value)
    assignments = ", ".join(f'"{column}" = ?' for column in values)
    conn.exec_driver_sql(f"UPDATE {target.name} SET {assignments} WHERE id = ?", (*params, row_id))
