"""The controlled drugs register: append-only, a running balance per product, corrected only by new entries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id, id_column


class CdRegisterEntry(Base):
    __tablename__ = "cd_register_entry"
    __table_args__ = (Index("ix_cd_register_product", "organisation_id", "product_id", "seq"),)

    id: Mapped[str] = id_column()
    seq: Mapped[int]  # order within the product's register
    organisation_id: Mapped[str] = mapped_column(Id, ForeignKey("organisation.id"))
    product_id: Mapped[str] = mapped_column(String(20))  # the VMP: one register per drug, strength and form
    product_name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))  # receipt | supply | correction
    quantity: Mapped[Decimal]  # signed: receipts add, supplies subtract
    balance: Mapped[Decimal]
    patient_id: Mapped[str | None] = mapped_column(Id)
    patient_name: Mapped[str | None] = mapped_column(String(200))
    patient_address: Mapped[str | None] = mapped_column(String(600))
    prescriber_name: Mapped[str | None] = mapped_column(String(200))
    prescriber_registration: Mapped[str | None] = mapped_column(String(64))
    supplier: Mapped[str | None] = mapped_column(String(200))
    dispensing_id: Mapped[str | None] = mapped_column(Id)
    corrects_id: Mapped[str | None] = mapped_column(Id, ForeignKey("cd_register_entry.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    entered_by: Mapped[str] = mapped_column(Id, ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
