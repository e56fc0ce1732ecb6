"""Print what a dispensing produced: the 80 mm receipt and one label per item supplied."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import UK, ServiceContext
from core.dispensing.model import OUTSTANDING_OWINGS
from core.documents.label import render_label
from core.documents.model import DispensedLine, DispensingLabel, ReceiptDocument
from core.documents.receipt import render_receipt
from core.errors import NotFound, ValidationError
from core.printing.details import organisation_details, patient_name
from core.storage.models import (
    Dispensing,
    DispensingLine,
    Organisation,
    Owing,
    Patient,
    Prescription,
    PrescriptionItem,
    User,
)
from core.users.roles import Permission, require


def _quantity_text(quantity: Decimal, unit: str) -> str:
    figure = format(quantity.normalize(), "f")
    plural = unit if quantity == 1 or len(unit) <= 2 or unit.endswith("s") else f"{unit}s"
    return f"{figure} {plural}"


def _load(session: Session, dispensing_id: str) -> tuple[Dispensing, Prescription, list[DispensingLine]]:
    dispensing = session.get(Dispensing, dispensing_id)
    if dispensing is None:
        raise NotFound("No such dispensing on this workstation.")
    rx = session.get_one(Prescription, dispensing.prescription_id)
    lines = list(
        session.execute(
            select(DispensingLine).where(DispensingLine.dispensing_id == dispensing_id).order_by(DispensingLine.id)
        ).scalars()
    )
    return dispensing, rx, lines


def print_receipt(ctx: ServiceContext, dispensing_id: str) -> bytes:
    require(ctx, Permission.DISPENSE)
    with ctx.database.transaction() as session:
        dispensing, rx, lines = _load(session, dispensing_id)
        items = {item.id: item for item in rx.items}
        supplied: dict[str, Decimal] = defaultdict(Decimal)
        for line in lines:
            supplied[line.item_id] += line.quantity
        owed = {
            o.item_id: o.quantity
            for o in session.execute(
                select(Owing).where(Owing.item_id.in_(list(items)), Owing.status.in_(OUTSTANDING_OWINGS))
            ).scalars()
        }
        receipt_lines = tuple(
            DispensedLine(item.product_name, supplied.get(item.id, Decimal(0)), item.unit, owed.get(item.id, 0))
            for item in rx.items
            if supplied.get(item.id) or owed.get(item.id)
        )
        try:
            pdf = render_receipt(
                ReceiptDocument(
                    organisation=organisation_details(session.get_one(Organisation, dispensing.organisation_id)),
                    patient_name=patient_name(session.get_one(Patient, rx.patient_id)),
                    items=receipt_lines,
                    pharmacist_name=session.get_one(User, dispensing.pharmacist_id).full_name,
                    dispensed_at=dispensing.dispensed_at.astimezone(UK),
                    prescription_id=rx.id,
                )
            )
        except ValueError as exc:
            raise ValidationError(f"The receipt cannot be printed: {exc}") from exc
        record_event(session, ctx, "dispensing.print_receipt", "dispensing", dispensing.id)
    return pdf


def print_labels(ctx: ServiceContext, dispensing_id: str) -> list[bytes]:
    """One label per item supplied in this dispensing (packs of one item share a label)."""
    require(ctx, Permission.DISPENSE)
    with ctx.database.transaction() as session:
        dispensing, rx, lines = _load(session, dispensing_id)
        organisation = organisation_details(session.get_one(Organisation, dispensing.organisation_id))
        name = patient_name(session.get_one(Patient, rx.patient_id))
        per_item: dict[str, Decimal] = defaultdict(Decimal)
        for line in lines:
            per_item[line.item_id] += line.quantity
        labels = []
        for item_id, quantity in per_item.items():
            item = session.get_one(PrescriptionItem, item_id)
            try:
                labels.append(
                    render_label(
                        DispensingLabel(
                            organisation=organisation,
                            patient_name=name,
                            medicine=item.product_name,
                            directions=item.directions,
                            quantity=_quantity_text(quantity, item.unit),
                            dispensed_on=dispensing.dispensed_at.astimezone(UK).date(),
                        )
                    )
                )
            except ValueError as exc:
                raise ValidationError(f"The label for {item.product_name} cannot be printed: {exc}") from exc
        record_event(
            session, ctx, "dispensing.print_labels", "dispensing", dispensing.id, after={"labels": len(labels)}
        )
    return labels
