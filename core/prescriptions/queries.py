"""Reading prescriptions: by id (as printed in the barcode), by patient, and the queue waiting to be dispensed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.errors import NotFound
from core.ids import is_id
from core.prescriptions.status import ACTIVE, PrescriptionStatus
from core.storage.models import Prescription, PrescriptionItem
from core.storage.raw import select_rows

_PRESCRIPTION = Prescription.__table__
_ITEM = PrescriptionItem.__table__


def _normalised_id(prescription_id: str) -> str:
    wanted = prescription_id.strip().lower().replace("-", "")
    if not is_id(wanted):
        raise NotFound(f"{prescription_id.strip()} is not a prescription id (32 characters, as in the barcode).")
    return wanted


def load_detached(session: Session, prescription_id: str) -> Prescription:
    """A prescription and its items as detached copies, read with two plain SQL selects: for the hot paths,
    which write their changes explicitly rather than through the ORM's unit of work."""
    wanted = _normalised_id(prescription_id)
    rows = select_rows(session, _PRESCRIPTION, "id = ?", (wanted,))
    if not rows:
        raise NotFound(f"No prescription {wanted} on this workstation (it may not have synced yet).")
    rx = Prescription(**rows[0])
    items = select_rows(session, _ITEM, "prescription_id = ? ORDER BY position", (wanted,))
    rx.items = [PrescriptionItem(**item) for item in items]
    return rx


def get_prescription(session: Session, prescription_id: str) -> Prescription:
    wanted = _normalised_id(prescription_id)
    rx = (
        session.execute(select(Prescription).where(Prescription.id == wanted).options(joinedload(Prescription.items)))
        .unique()
        .scalar()
    )
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


def dispensing_queue(session: Session, today: date, limit: int = 200) -> list[Prescription]:
    """Signed and part-dispensed prescriptions that may be dispensed today, oldest first (expired ones are moved out
    by expire_prescriptions; later repeat issues join the queue on their start date)."""
    return list(
        session.execute(
            select(Prescription)
            .where(
                Prescription.status.in_([s.value for s in ACTIVE]),
                Prescription.appropriate_date <= today,
                Prescription.valid_until >= today,  # out of date, even before expire_prescriptions has run
            )
            .order_by(Prescription.signed_at, Prescription.repeat_issue, Prescription.id)
            .limit(limit)
            .options(selectinload(Prescription.items))
        ).scalars()
    )


def is_draft(rx: Prescription) -> bool:
    return rx.status == PrescriptionStatus.DRAFT
