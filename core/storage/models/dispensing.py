"""Dispensings (append-only), the packs supplied, and owings for what could not be supplied yet."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id, id_column


class Dispensing(Base):
    __tablename__ = "dispensing"

    id: Mapped[str] = id_column()
    prescription_id: Mapped[str] = mapped_column(Id, ForeignKey("prescription.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(Id, ForeignKey("organisation.id"))
    pharmacist_id: Mapped[str] = mapped_column(Id, ForeignKey("user_account.id"))
    workstation: Mapped[str] = mapped_column(String(100))
    dispensed_at: Mapped[datetime]


class DispensingLine(Base):
    __tablename__ = "dispensing_line"

    id: Mapped[str] = id_column()
    dispensing_id: Mapped[str] = mapped_column(Id, ForeignKey("dispensing.id"), index=True)
    item_id: Mapped[str] = mapped_column(Id, ForeignKey("prescription_item.id"), index=True)
    ampp_id: Mapped[str | None] = mapped_column(String(20))
    gtin: Mapped[str | None] = mapped_column(String(14))
    product_name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal]
    owing_id: Mapped[str | None] = mapped_column(Id, ForeignKey("owing.id"))  # the owing this line supplied


class Owing(Base):
    __tablename__ = "owing"

    id: Mapped[str] = id_column()
    item_id: Mapped[str] = mapped_column(Id, ForeignKey("prescription_item.id"), index=True)
    quantity: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(16))  # open | supplied | expired
    expires_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
