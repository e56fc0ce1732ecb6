"""Plain SQL reads for the hot paths (signing, dispensing): the ORM's per-query cost is several times SQLite's.

Only for reads of a few columns whose values need no conversion beyond what the caller does; writes go through
the models, so the ORM stays the one way rows are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session


def fetch_all(session: Session, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.connection().exec_driver_sql(sql, tuple(params))]


def fetch_one(session: Session, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    row = session.connection().exec_driver_sql(sql, tuple(params)).first()
    return None if row is None else tuple(row)
