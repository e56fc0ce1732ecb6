"""A clinic or a pharmacy: the details printed on labels, receipts and prescriptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, id_column


class OrganisationKind(StrEnum):
    CLINIC = "clinic"
    PHARMACY = "pharmacy"


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500))  # lines separated by newlines
    postcode: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
