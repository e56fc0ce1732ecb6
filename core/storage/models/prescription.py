"""Prescriptions, their items and the rule warnings a prescriber overrode (with the typed reason)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.storage.models.base import Base, Id, id_column


class Prescription(Base):
    __tablename__ = "prescription"
    __table_args__ = (
        Index("ix_prescription_patient", "patient_id", "created_at"),
        Index("ix_prescription_status", "status", "signed_at"),
    )

    id: Mapped[str] = id_column()
    organisation_id: Mapped[str] = mapped_column(Id, ForeignKey("organisation.id"))
    patient_id: Mapped[str] = mapped_column(Id, ForeignKey("patient.id"))
    prescriber_id: Mapped[str] = mapped_column(Id, ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(24))
    not_before: Mapped[date | None] = mapped_column(Date)  # a start date chosen by the prescriber
    appropriate_date: Mapped[date | None] = mapped_column(Date)  # later of signing date and not_before
    valid_until: Mapped[date | None] = mapped_column(Date)
    repeat_issue: Mapped[int | None]  # issue n ...
    repeat_total: Mapped[int | None]  # ... of m
    repeat_interval_days: Mapped[int | None]
    repeat_group_id: Mapped[str | None] = mapped_column(Id, index=True)  # the issues signed together
    token_cost: Mapped[int | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    signed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    items: Mapped[list[PrescriptionItem]] = relationship(
        back_populates="prescription", order_by="PrescriptionItem.position", cascade="all, delete-orphan"
    )

    @property
    def is_repeat(self) -> bool:
        return self.repeat_total is not None and self.repeat_total > 1


class PrescriptionItem(Base):
    """One medicine: the dm+d ids and a snapshot of what was prescribed, so a later release never changes it."""

    __tablename__ = "prescription_item"

    id: Mapped[str] = id_column()
    prescription_id: Mapped[str] = mapped_column(Id, ForeignKey("prescription.id"), index=True)
    position: Mapped[int]
    vmp_id: Mapped[str] = mapped_column(String(20))
    amp_id: Mapped[str | None] = mapped_column(String(20))
    product_name: Mapped[str] = mapped_column(String(500))
    strength: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(100))
    cd_schedule: Mapped[int | None]
    ingredient_ids: Mapped[str] = mapped_column(String(500))  # space-separated ISIDs, for allergy checks
    dose: Mapped[str] = mapped_column(String(300))
    directions: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal]
    quantity_in_words: Mapped[str | None] = mapped_column(String(300))
    days_supply: Mapped[int | None]
    quantity_supplied: Mapped[Decimal] = mapped_column(default=Decimal(0))
    status: Mapped[str] = mapped_column(String(24), default="pending")

    prescription: Mapped[Prescription] = relationship(back_populates="items")


class RuleOverride(Base):
    __tablename__ = "rule_override"

    id: Mapped[str] = id_column()
    prescription_id: Mapped[str] = mapped_column(Id, ForeignKey("prescription.id"), index=True)
    item_id: Mapped[str | None] = mapped_column(Id, ForeignKey("prescription_item.id"))
    rule: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[str] = mapped_column(Id, ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
