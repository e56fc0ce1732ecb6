"""Declarative base: ids are client-made UUIDv7 hex strings; times are aware UTC datetimes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.ids import new_id
from core.storage.types import DecimalText, UtcDateTime

# Stable constraint names, so Alembic migrations can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = String(32)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), Decimal: DecimalText()}  # noqa: RUF012


def id_column() -> Mapped[str]:
    return mapped_column(Id, primary_key=True, default=new_id)
