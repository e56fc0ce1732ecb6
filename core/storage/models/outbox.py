"""Changes waiting to reach the server, written in the same transaction as the change itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_seq", "state", "seq"),  # the next batch: pending, oldest first
        Index("ix_outbox_row_state", "row_id", "state"),  # a row's pending changes
    )

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(Id, unique=True)
    table: Mapped[str] = mapped_column("table_name", String(32))
    row_id: Mapped[str] = mapped_column(Id)
    operation: Mapped[str] = mapped_column(String(16))  # create | update
    payload: Mapped[str] = mapped_column(Text)  # JSON of the row as it must be on the server
    created_at: Mapped[datetime]
    # pending | applied | duplicate | rejected | conflict: the last four are the server's answer
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(Id)  # the user whose change it is (None: queued before 0003)
    attempted_at: Mapped[datetime | None]  # the last time it was sent
