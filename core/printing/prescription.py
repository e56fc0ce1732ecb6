"""Print a signed prescription (A5 or A4). Every print is audited: a reprint is visible in the trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy.orm import Session

from core.audit.log import audit_trail, record_event
from core.context import UK, ServiceContext
from core.documents.model import PrescribedItem, PrescriptionDocument, RepeatIssue
from core.documents.prescription_form import PageSize, render_prescription
from core.errors import InvalidTransition, ValidationError
from core.prescriptions.queries import get_prescription
from core.prescriptions.status import PrescriptionStatus
from core.printing.details import organisation_details, patient_details, prescriber_details
from core.rules.validity import earliest_item_expiry
from core.storage.models import Organisation, Patient, Prescription, User
from core.users.roles import Permission, require


def prescription_document(session: Session, rx: Prescription) -> PrescriptionDocument:
    if rx.signed_at is None or rx.valid_until is None:
        raise InvalidTransition("Only a signed prescription can be printed.")
    items = tuple(
        PrescribedItem(
            name=item.product_name,
            strength=item.strength or "",
            form=item.form or "",
            dose=item.dose,
            quantity=item.quantity,
            unit=item.unit,
            directions=item.directions,
            quantity_in_words=item.quantity_in_words,
            cd_schedule=item.cd_schedule,
            days_supply=item.days_supply,
        )
        for item in rx.items
    )
    repeat = RepeatIssue(rx.repeat_issue or 1, rx.repeat_total) if rx.repeat_total else None
    return PrescriptionDocument(
        organisation=organisation_details(session.get_one(Organisation, rx.organisation_id)),
        prescriber=prescriber_details(session.get_one(User, rx.prescriber_id)),
        patient=patient_details(session.get_one(Patient, rx.patient_id)),
        items=items,
        prescription_id=rx.id,
        signed_at=rx.signed_at.astimezone(UK),  # the UK day it was signed on
        valid_until=rx.valid_until,
        repeat=repeat,
        cd_valid_until=_cd_valid_until(rx),
        not_before=rx.appropriate_date,
    )


def _cd_valid_until(rx: Prescription) -> date | None:
    schedules: list[int | None] = [item.cd_schedule for item in rx.items if item.cd_schedule in (2, 3, 4)]
    if not schedules or rx.appropriate_date is None:
        return None
    return earliest_item_expiry(rx.appropriate_date, schedules)


# How a prescription no longer to be dispensed is marked across the page.
_STATUS_STAMPS = {
    PrescriptionStatus.CANCELLED: "CANCELLED",
    PrescriptionStatus.EXPIRED: "EXPIRED",
    PrescriptionStatus.DISPENSED: "DISPENSED - COPY",
}


def print_prescription(ctx: ServiceContext, prescription_id: str, page_size: PageSize = "A5") -> bytes:
    """The prescription as PDF bytes, for its prescriber's clinic. The first print of a live prescription is the
    original; any later print says COPY, and one no longer to be dispensed says why, across every page.
    Raises InvalidTransition for drafts, ValidationError for a record that cannot be printed."""
    require(ctx, Permission.PRESCRIBE)
    with ctx.database.transaction() as session:
        rx = get_prescription(session, prescription_id)
        if rx.status == PrescriptionStatus.DRAFT:
            raise InvalidTransition("A draft cannot be printed: sign it first.")
        printed_before = any(e.action == "prescription.print" for e in audit_trail(session, "prescription", rx.id))
        stamp = _STATUS_STAMPS.get(PrescriptionStatus(rx.status)) or ("COPY" if printed_before else None)
        try:
            document = replace(prescription_document(session, rx), stamp=stamp)
            pdf = render_prescription(document, page_size)
        except ValueError as exc:
            raise ValidationError(f"The prescription cannot be printed: {exc}") from exc
        after = {"page_size": page_size, "stamp": stamp}
        record_event(session, ctx, "prescription.print", "prescription", rx.id, after=after)
    return pdf
