"""Cancelling and expiring prescriptions: each move is a legal transition, audited and queued for the server."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.dispensing.model import OUTSTANDING_OWINGS
from core.errors import ValidationError
from core.outbox import enqueue
from core.prescriptions.queries import get_prescription
from core.prescriptions.status import ACTIVE, PrescriptionStatus, check_transition
from core.rules.model import MIN_OVERRIDE_REASON
from core.storage.models import Owing, Prescription, PrescriptionItem
from core.users.roles import Permission, require


def cancel_prescription(
    ctx: ServiceContext, prescription_id: str, reason: str, *, whole_batch: bool = False
) -> Prescription:
    """Cancel a draft or a prescription not yet fully dispensed. Open owings are cancelled with it. With
    ``whole_batch``, the later issues of its repeat that can still be cancelled go with it (in one transaction)."""
    require(ctx, Permission.CANCEL_PRESCRIPTIONS)
    if len(reason.strip()) < MIN_OVERRIDE_REASON:
        raise ValidationError("Say why the prescription is cancelled.")
    with ctx.database.transaction() as session:
        rx = get_prescription(session, prescription_id)
        _cancel(session, ctx, rx, reason.strip())
        if whole_batch and rx.repeat_group_id:
            siblings = session.execute(
                select(Prescription).where(
                    Prescription.repeat_group_id == rx.repeat_group_id,
                    Prescription.id != rx.id,
                    Prescription.repeat_issue > (rx.repeat_issue or 0),
                    Prescription.status.in_([s.value for s in ACTIVE]),
                )
            ).scalars()
            for issue in siblings:
                _cancel(session, ctx, issue, reason.strip())
    return rx


def _cancel(session: Session, ctx: ServiceContext, rx: Prescription, reason: str) -> None:
    check_transition(rx.status, PrescriptionStatus.CANCELLED)
    before = rx.status
    rx.status = PrescriptionStatus.CANCELLED.value
    rx.cancel_reason = reason
    rx.updated_at = ctx.now()
    for owing in _open_owings(session, rx):
        _close_owing(session, ctx, owing, "cancelled")
    for item in rx.items:
        if item.status != "supplied":  # nothing more of it will be supplied
            item.status = "cancelled"
            if before != PrescriptionStatus.DRAFT:
                enqueue(session, ctx, item, "update")
    record_event(
        session, ctx, "prescription.cancel", "prescription", rx.id,
        before={"status": before}, after={"status": rx.status, "reason": rx.cancel_reason},
    )  # fmt: skip
    if before != PrescriptionStatus.DRAFT:  # drafts never reached the server
        enqueue(session, ctx, rx, "update")


def _close_owing(session: Session, ctx: ServiceContext, owing: Owing, status: str) -> None:
    """An owing ends with its prescription (cancelled, expired), or alone when its own period is over."""
    owing.status = status
    owing.updated_at = ctx.now()
    enqueue(session, ctx, owing, "update")


def _open_owings(session: Session, rx: Prescription) -> list[Owing]:
    return list(
        session.execute(
            select(Owing)
            .join(PrescriptionItem)
            .where(PrescriptionItem.prescription_id == rx.id, Owing.status.in_(OUTSTANDING_OWINGS))
        ).scalars()
    )


def expire_prescriptions(ctx: ServiceContext) -> int:
    """Expire what is past its last valid day: owings (a Schedule 2-4 owing ends before the rest of its
    prescription), then signed or part-dispensed prescriptions with their remaining owings. How many prescriptions."""
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    today = ctx.today()
    expired = 0
    with ctx.database.transaction() as session:
        lapsed = select(Owing).where(Owing.status.in_(OUTSTANDING_OWINGS), Owing.expires_on < today)
        for owing in session.execute(lapsed).scalars():
            before = owing.status
            _close_owing(session, ctx, owing, "expired")
            item = session.get_one(PrescriptionItem, owing.item_id)
            item.status = "expired"  # the rest of it lapsed with its owing
            enqueue(session, ctx, item, "update")
            record_event(
                session, ctx, "owing.expire", "owing", owing.id,
                before={"status": before}, after={"status": "expired", "expires_on": owing.expires_on},
            )  # fmt: skip
        rows = session.execute(
            select(Prescription).where(
                Prescription.status.in_([s.value for s in ACTIVE]), Prescription.valid_until < today
            )
        ).scalars()
        for rx in rows:
            before = rx.status
            rx.status = PrescriptionStatus.EXPIRED.value
            rx.updated_at = ctx.now()
            for owing in _open_owings(session, rx):
                _close_owing(session, ctx, owing, "expired")
            record_event(
                session, ctx, "prescription.expire", "prescription", rx.id,
                before={"status": before}, after={"status": rx.status, "valid_until": rx.valid_until},
            )  # fmt: skip
            enqueue(session, ctx, rx, "update")
            expired += 1
    return expired
