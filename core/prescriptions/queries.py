"""Reading prescriptions: by id (as printed in the barcode), by patient, and the queue waiting to be dispensed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import NotFound
from core.ids import is_id
from core.prescriptions.status import ACTIVE, PrescriptionStatus
from core.storage.models import Prescription, PrescriptionItem


def get_prescription(session: Session, prescription_id: str) -> Prescription:
    wanted = prescription_id.strip().lower().replace("-", "")
    if not is_id(wanted):
        raise NotFound(f"{prescription_id.strip()} is not a prescription id (32 characters, as in the barcode).")
    rx = session.execute(
        select(Prescription).where(Prescription.id == wanted).options(selectinload(Prescription.items))
    ).scalar()
    if rx is None:
        raise NotFound(f"No prescription {wanted} on this workstation (it may not have synced yet).")
    return rx


def get_item(session: Session, item_id: str) -> PrescriptionItem:
    item = session.get(PrescriptionItem, item_id)
    if item is None:
        raise NotFound("No such prescription item.")
    return item


def prescriptions_of_patient(session: Session, patient_id: str) -> list[Prescription]:
    return list(
        session.execute(
            select(Prescription)
            .where(Prescription.patient_id == patient_id)
            .order_by(Prescription.created_at.desc())
            .options(selectinload(Prescription.items))
        ).scalars()
    )


def dispensing_queue(session: Session, limit: int = 200) -> list[Prescription]:
    """Signed and part-dispensed prescriptions, oldest first (expired ones are moved out by expire_prescriptions)."""
    return list(
        session.execute(
            select(Prescription)
            .where(Prescription.status.in_([s.value for s in ACTIVE]))
            .order_by(Prescription.signed_at)
            .limit(limit)
            .options(selectinload(Prescription.items))
        ).scalars()
    )


def is_draft(rx: Prescription) -> bool:
    return rx.status == PrescriptionStatus.DRAFT
