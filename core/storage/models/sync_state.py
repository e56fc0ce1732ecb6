"""What this workstation knows of the server: the last server version of each synced row, how far each table has
been pulled, and the inbox of changes the server rejected or found in conflict (docs/sync.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id, id_column


class SyncShadow(Base):
    """The server's version of a row as last seen here: the base of this workstation's next change to it."""

    __tablename__ = "sync_shadow"

    table: Mapped[str] = mapped_column("table_name", String(32), primary_key=True)
    row_id: Mapped[str] = mapped_column(Id, primary_key=True)
    data: Mapped[str] = mapped_column(Text)  # JSON of the synced columns
    server_updated_at: Mapped[str] = mapped_column(String(40))  # the server's $updatedAt, as it sent it


class SyncWatermark(Base):
    """How far a table has been pulled: the last $updatedAt taken and the row ids taken at that instant."""

    __tablename__ = "sync_watermark"

    table: Mapped[str] = mapped_column("table_name", String(32), primary_key=True)
    updated_at: Mapped[str] = mapped_column(String(40))
    seen_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list


class SyncInboxItem(Base):
    """A change of this workstation the server did not take as it was: the reason, and what each side holds."""

    __tablename__ = "sync_inbox"

    id: Mapped[str] = id_column()
    outbox_id: Mapped[str] = mapped_column(Id, index=True)
    table: Mapped[str] = mapped_column("table_name", String(32))
    row_id: Mapped[str] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(16))  # rejected | conflict | set aside
    reason: Mapped[str] = mapped_column(Text)
    mine: Mapped[str] = mapped_column(Text)  # JSON: the fields as this workstation had them
    server: Mapped[str | None] = mapped_column(Text)  # JSON: the server's version of the row
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))  # restored | dismissed
