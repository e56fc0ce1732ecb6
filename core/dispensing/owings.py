"""Owings: what is still to be supplied of an item after a dispensing.

An item has at most one open owing. A later supply closes it (status ``supplied``; the dispensing line points at
it) and, if anything is still outstanding, opens a new owing for the remainder. A row is only ever closed, never
given a new quantity, so each owing slip printed stays true to its row, and sync only ever sees the status of a
row move forward (open → supplied / expired / cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import ServiceContext
from core.dispensing.model import OwingInfo, OwingStatus
from core.errors import InvalidTransition
from core.ids import new_id
from core.outbox import enqueue
from core.rules.validity import item_valid_until
from core.storage.models import Owing, Prescription, PrescriptionItem
from core.storage.pending_rows import queue_object


def owing_expiry(rx: Prescription, item: PrescriptionItem) -> date:
    """The last day the item may be supplied: 28 days for Schedule 2-4 (owings included), else 6 months.

    Both run from the prescription's appropriate date, so for a Schedule 2-4 item this is the prescription's own
    last valid day; a non-CD item on the same prescription keeps its 6 months for an owing.
    """
    if rx.appropriate_date is None:
        raise InvalidTransition("This prescription has not been signed.")
    return item_valid_until(rx.appropriate_date, item.cd_schedule)


def open_owings(session: Session, item_ids: Iterable[str]) -> dict[str, Owing]:
    """The open owing of each item that has one."""
    rows = session.execute(
        select(Owing).where(Owing.item_id.in_(list(item_ids)), Owing.status == OwingStatus.OPEN.value)
    ).scalars()
    return {owing.item_id: owing for owing in rows}


def close_owing(session: Session, ctx: ServiceContext, owing: Owing) -> None:
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
