"""Token accounts and their append-only ledger. The balance is derived from the ledger, never stored alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id, id_column


class TokenAccount(Base):
    __tablename__ = "token_account"

    id: Mapped[str] = id_column()
    owner_kind: Mapped[str] = mapped_column(String(16))  # organisation | user
    owner_id: Mapped[str] = mapped_column(Id, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    overdraft_limit: Mapped[int] = mapped_column(default=0)
    confirmed_balance: Mapped[int] = mapped_column(default=0)  # the server's balance when last synced
    confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_account_time", "account_id", "created_at"),
        Index("ix_ledger_pending", "account_id", "confirmed", "amount"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(Id, ForeignKey("token_account.id"))
    kind: Mapped[str] = mapped_column(String(16))  # credit | debit | correction
    amount: Mapped[int]  # signed: credits positive, debits negative
    description: Mapped[str] = mapped_column(String(300))
    prescription_id: Mapped[str | None] = mapped_column(Id)
    corrects_id: Mapped[str | None] = mapped_column(Id, ForeignKey("ledger_entry.id"))
    created_by: Mapped[str | None] = mapped_column(Id)
    created_at: Mapped[datetime]
    confirmed: Mapped[bool] = mapped_column(default=False)  # counted in the account's confirmed balance
