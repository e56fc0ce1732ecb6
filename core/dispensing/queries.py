"""Reading for the dispensing counter: find a prescription (scanned id or patient), the queue, owings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.context import ServiceContext
from core.dispensing.access import organisation_of
from core.dispensing.model import OUTSTANDING_OWINGS, OpenOwing, OwingInfo
from core.dispensing.owings import owing_info
from core.errors import NotFound
from core.ids import is_id
from core.patients.search import search_patients
from core.prescriptions import queries
from core.prescriptions.status import ACTIVE, PrescriptionStatus
from core.storage.models import Dispensing, Owing, Patient, Prescription, PrescriptionItem
from core.users.roles import Permission, require

MAX_PATIENTS = 20


def find_for_dispensing(ctx: ServiceContext, text: str) -> list[Prescription]:
    """A prescription by the id in its barcode (NotFound if absent), else the active prescriptions of the patients
    the text finds (NHS number, name, date of birth, postcode), oldest signed first."""
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    wanted = text.strip().lower().replace("-", "")
    if not wanted:
        return []
    if is_id(wanted):
        with ctx.database.reader() as session:
            rx = queries.get_prescription(session, wanted)
        if rx.status == PrescriptionStatus.DRAFT:  # a draft is not a prescription yet
            raise NotFound("That prescription has not been signed: it cannot be dispensed.")
        return [rx]
    patients = search_patients(ctx, text, limit=MAX_PATIENTS)
    if not patients:
        return []
    with ctx.database.reader() as session:
        rows = session.execute(
            select(Prescription)
            .where(
                Prescription.patient_id.in_([p.id for p in patients]),
                Prescription.status.in_([s.value for s in ACTIVE]),
            )
            .order_by(Prescription.signed_at, Prescription.id)  # ids are time-ordered (UUIDv7)
            .options(selectinload(Prescription.items))
        ).scalars()
        return list(rows)


def dispensing_queue(ctx: ServiceContext, limit: int = 200) -> list[Prescription]:
    """Signed and part-dispensed prescriptions, oldest first."""
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    with ctx.database.reader() as session:
        return queries.dispensing_queue(session, ctx.today(), limit)


def patients_of(ctx: ServiceContext, prescriptions: list[Prescription]) -> dict[str, Patient]:
    """The patients of these prescriptions by id: the counter names whom each prescription is for."""
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    ids = {rx.patient_id for rx in prescriptions}
    if not ids:
        return {}
    with ctx.database.reader() as session:
        return {p.id: p for p in session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}


def owings_of(ctx: ServiceContext, prescription_id: str, *, include_closed: bool = False) -> list[OwingInfo]:
    """The outstanding (open or ready) owings of a prescription (with ``include_closed``, every owing ever opened), in
    item order."""
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    with ctx.database.reader() as session:
        rx = queries.get_prescription(session, prescription_id)
        statement = (
            select(Owing, PrescriptionItem)
            .join(PrescriptionItem, Owing.item_id == PrescriptionItem.id)
            .where(PrescriptionItem.prescription_id == rx.id)
            .order_by(PrescriptionItem.position, Owing.created_at)
        )
        if not include_closed:
            statement = statement.where(Owing.status.in_(OUTSTANDING_OWINGS))
        return [owing_info(owing, item) for owing, item in session.execute(statement).tuples()]


def open_owings_of_organisation(ctx: ServiceContext, limit: int = 500) -> list[OpenOwing]:
    """What this pharmacy still owes: the open and ready owings of prescriptions it has dispensed from, soonest last
    day first. Owings past their last day are left out (they can no longer be supplied; expiring marks them)."""
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    organisation_id = organisation_of(ctx)
    dispensed_here = (
        select(Dispensing.id)
        .where(Dispensing.prescription_id == Prescription.id, Dispensing.organisation_id == organisation_id)
        .exists()
    )
    statement = (
        select(Owing, PrescriptionItem, Prescription.id, Patient.family_name, Patient.given_name)
        .join(PrescriptionItem, Owing.item_id == PrescriptionItem.id)
        .join(Prescription, PrescriptionItem.prescription_id == Prescription.id)
        .join(Patient, Prescription.patient_id == Patient.id)
        .where(Owing.status.in_(OUTSTANDING_OWINGS), Owing.expires_on >= ctx.today(), dispensed_here)
        .order_by(Owing.expires_on, Owing.created_at, Owing.id)
        .limit(limit)
    )
    with ctx.database.reader() as session:
        rows = session.execute(statement).tuples().all()
    return [
        OpenOwing(owing_info(owing, item), rx_id, f"{family.upper()}, {given}", owing.created_at)
        for owing, item, rx_id, family, given in rows
    ]
