"""A user of a workstation: role, prescriber details, and argon2 hashes so sign-in works offline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id, id_column


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[str] = id_column()
    organisation_id: Mapped[str | None] = mapped_column(Id, ForeignKey("organisation.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    prescriber_type: Mapped[str | None] = mapped_column(String(32))
    registration_number: Mapped[str | None] = mapped_column(String(32))  # GMC, NMC, GDC or GPhC number
    password_hash: Mapped[str] = mapped_column(String(200))
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
