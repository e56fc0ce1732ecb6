"""Patients and their allergies. ``*_key`` columns are normalised copies that the search indexes use."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models.base import Base, Id, id_column


class Patient(Base):
    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_family_key", "family_key", "given_key"),
        Index("ix_patient_given_key", "given_key"),
        Index("ix_patient_date_of_birth", "date_of_birth"),
        Index("ix_patient_postcode_key", "postcode_key"),
        Index("ix_patient_name_dob", "family_key", "given_key", "date_of_birth"),
    )

    id: Mapped[str] = id_column()
    organisation_id: Mapped[str | None] = mapped_column(Id, ForeignKey("organisation.id"))
    nhs_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    title: Mapped[str | None] = mapped_column(String(20))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(500))  # lines separated by newlines
    postcode: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    # How the patient wants to be told their prescription is signed, dispensed or ready (core.patients.notifications:
    # email, sms, both, none; NULL for patients registered before schema 0004: none) and their consent to it: when
    # and by whom it was recorded; nothing is sent without it.
    notify_by: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None]
    consent_by: Mapped[str | None] = mapped_column(Id, ForeignKey("user_account.id"))
    family_key: Mapped[str] = mapped_column(String(100))
    given_key: Mapped[str] = mapped_column(String(100))
    postcode_key: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]  # tombstone: synced rows are never deleted (DESIGN.md §6)


class Allergy(Base):
    """An allergy or intolerance to a dm+d ingredient (ING, ``isid``) or a VTM (``vtmid``)."""

    __tablename__ = "allergy"

    id: Mapped[str] = id_column()
    patient_id: Mapped[str] = mapped_column(Id, ForeignKey("patient.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # allergy | intolerance
    substance_kind: Mapped[str] = mapped_column(String(16))  # ingredient | vtm
    substance_id: Mapped[str] = mapped_column(String(20))
    substance_name: Mapped[str] = mapped_column(String(300))
    reaction: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))  # mild | moderate | severe
    recorded_by: Mapped[str] = mapped_column(Id, ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]
