"""Owings: what is still to be supplied of an item after a dispensing.

An item has at most one open owing. A later supply closes it (status ``supplied``; the dispensing line points at
it) and, if anything is still outstanding, opens a new owing for the remainder. A row is only ever closed, never
given a new quantity, so each owing slip printed stays true to its row, and sync only ever sees the status of a
row move forward (open → ready → supplied / expired / cancelled).

When the stock of an owed item arrives the pharmacist marks the owing ready for collection: the server's notify
function tells the patient (if they agreed to be told). A ready owing is supplied, expires or is cancelled exactly
as an open one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.dispensing.access import organisation_of
from core.dispensing.model import OUTSTANDING_OWINGS, OwingInfo, OwingStatus, check_owing_move
from core.dispensing.values import uk_date
from core.errors import InvalidTransition, NotFound
from core.ids import new_id
from core.outbox import enqueue
from core.rules.validity import item_valid_until
from core.storage.models import Dispensing, Owing, Prescription, PrescriptionItem
from core.storage.pending_rows import queue_object
from core.users.roles import Permission, require


def owing_expiry(rx: Prescription, item: PrescriptionItem) -> date:
    """The last day the item may be supplied: 28 days for Schedule 2-4 (owings included), else 6 months.

    Both run from the prescription's appropriate date, so for a Schedule 2-4 item this is the prescription's own
    last valid day; a non-CD item on the same prescription keeps its 6 months for an owing.
    """
    if rx.appropriate_date is None:
        raise InvalidTransition("This prescription has not been signed.")
    return item_valid_until(rx.appropriate_date, item.cd_schedule)


def open_owings(session: Session, item_ids: Iterable[str]) -> dict[str, Owing]:
    """The outstanding (open or ready) owing of each item that has one."""
    rows = session.execute(
        select(Owing).where(Owing.item_id.in_(list(item_ids)), Owing.status.in_(OUTSTANDING_OWINGS))
    ).scalars()
    return {owing.item_id: owing for owing in rows}


def close_owing(session: Session, ctx: ServiceContext, owing: Owing) -> None:
    check_owing_move(owing.status, OwingStatus.SUPPLIED)
    owing.status = OwingStatus.SUPPLIED.value
    owing.updated_at = ctx.now()
    enqueue(session, ctx, owing, "update")


def open_owing(
    session: Session, ctx: ServiceContext, rx: Prescription, item: PrescriptionItem, quantity: Decimal
) -> Owing:
    now = ctx.now()
    owing = Owing(
        id=new_id(),  # set now, not at flush: the outbox payload needs it
        item_id=item.id,
        quantity=quantity,
        status=OwingStatus.OPEN.value,
        expires_on=owing_expiry(rx, item),
        created_at=now,
        updated_at=now,
    )
    queue_object(session, owing)
    enqueue(session, ctx, owing)
    return owing


def owing_info(owing: Owing, item: PrescriptionItem) -> OwingInfo:
    return OwingInfo(owing.id, item.id, item.product_name, owing.quantity, item.unit, owing.expires_on, owing.status)


def mark_owing_ready(ctx: ServiceContext, owing_id: str) -> OwingInfo:
    """The owed stock has arrived: the owing is ready for collection (pharmacists of the pharmacy that owes it).
    Audited and queued for the server, whose notify function tells the patient. Raises NotFound, or
    InvalidTransition for an owing that is not open or is past its last day."""
    require(ctx, Permission.DISPENSE)
    organisation_id = organisation_of(ctx)
    with ctx.database.transaction() as session:
        owing = session.get(Owing, owing_id)
        if owing is None:
            raise NotFound("No such owing.")
        item = session.get_one(PrescriptionItem, owing.item_id)
        owed_here = session.execute(
            select(Dispensing.id).where(
                Dispensing.prescription_id == item.prescription_id, Dispensing.organisation_id == organisation_id
            )
        ).first()
        if owed_here is None:
            raise InvalidTransition("That owing is another pharmacy's: it is marked ready where it is owed.")
        check_owing_move(owing.status, OwingStatus.READY)
        if ctx.today() > owing.expires_on:
            raise InvalidTransition(f"That owing expired on {uk_date(owing.expires_on)}: it can no longer be supplied.")
        owing.status = OwingStatus.READY.value
        owing.updated_at = ctx.now()
        record_event(
            session, ctx, "owing.ready", "owing", owing.id,
            before={"status": OwingStatus.OPEN.value}, after={"status": owing.status, "item": item.id},
        )  # fmt: skip
        enqueue(session, ctx, owing, "update")
        return owing_info(owing, item)
