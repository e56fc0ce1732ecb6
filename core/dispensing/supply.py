"""Dispensing: supply all or part of a signed prescription, in one transaction.

``planning`` checks everything and reads everything first; then the dispensing, its lines, the items' supplied
quantities, the owings, the CD register entries, the overrides, the audit events and the outbox rows are written
together. Any error rolls all of it back.

After each dispensing every item not supplied in full has exactly one open owing (items not supplied at all
included: the pharmacy owes the patient the whole quantity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.dispensing import cd_register
from core.dispensing.access import organisation_of
from core.dispensing.model import DispensingResult, ItemSupply, OwingInfo, SuppliedLine, SupplyLine
from core.dispensing.owings import close_owing, open_owing, owing_info
from core.dispensing.planning import Plan, plan_dispensing, refuse_unresolved, register_name
from core.dispensing.scan import ScanResult
from core.dispensing.values import parse_quantity, qty
from core.dmd.catalogue import Catalogue
from core.errors import ValidationError
from core.ids import new_id
from core.outbox import enqueue
from core.prescriptions.queries import load_detached
from core.prescriptions.status import PrescriptionStatus, check_transition
from core.rules.overrides import record_override
from core.rules.validity import item_valid_until
from core.storage.models import Dispensing, DispensingLine, Prescription, PrescriptionItem
from core.storage.pending_rows import queue_object
from core.storage.raw import update_row
from core.users.roles import Permission, require


def dispense_items(
    ctx: ServiceContext,
    catalogue: Catalogue,
    prescription_id: str,
    lines: Sequence[SupplyLine],
    *,
    overrides: Mapping[str, str] | None = None,
) -> DispensingResult:
    """Supply ``lines`` of a prescription. Pharmacists only.

    Raises InvalidTransition (wrong state, too early, expired, owing expired), ValidationError (quantities, items)
    or DispensingRefused (a wrong pack, or a warning without a reason in ``overrides`` under its ``key``).
    Nothing is written when it raises.
    """
    require(ctx, Permission.DISPENSE)
    organisation_id = organisation_of(ctx)
    if not lines:
        raise ValidationError("Choose at least one item to supply.")
    amounts = [parse_quantity(line.quantity, "quantity supplied") for line in lines]
    reasons = {key: text.strip() for key, text in (overrides or {}).items()}
    with ctx.database.transaction() as session:
        # Detached copies, changed in memory and written explicitly: no ORM unit of work on the hot path.
        rx = load_detached(session, prescription_id)
        plan = plan_dispensing(session, ctx, catalogue, rx, organisation_id, lines, amounts)
        refuse_unresolved(plan.warnings, reasons)
        return _write(session, ctx, catalogue, plan, organisation_id, reasons)


def _write(
    session: Session,
    ctx: ServiceContext,
    catalogue: Catalogue,
    plan: Plan,
    organisation_id: str,
    reasons: Mapping[str, str],
) -> DispensingResult:
    rx = plan.rx
    before = rx.status
    dispensing = Dispensing(
        id=new_id(),
        prescription_id=rx.id,
        organisation_id=organisation_id,
        pharmacist_id=ctx.actor.user_id,
        workstation=ctx.workstation,
        dispensed_at=ctx.now(),
    )
    queue_object(session, dispensing)  # append-only rows are queued, written in one INSERT per table
    enqueue(session, ctx, dispensing)
    supplied = [_write_line(session, ctx, dispensing, plan, *line) for line in plan.lines]
    owings = _settle_items(session, ctx, plan)
    target = PrescriptionStatus.DISPENSED if not owings else PrescriptionStatus.PARTIALLY_DISPENSED
    check_transition(rx.status, target)
    rx.status = target.value
    rx.updated_at = ctx.now()
    update_row(session, Prescription.__table__, rx.id, {"status": rx.status, "updated_at": rx.updated_at})
    enqueue(session, ctx, rx, "update")
    entries = _write_register(session, ctx, catalogue, plan, organisation_id, dispensing.id)
    for warning in plan.warnings:
        record_override(session, ctx, rx.id, warning, reasons[warning.key], "dispensing.override")
    record_event(
        session, ctx, "prescription.dispense", "prescription", rx.id,
        before={"status": before},
        after={
            "status": rx.status,
            "dispensing": dispensing.id,
            "lines": [{"item": s.item_id, "quantity": qty(s.quantity), "gtin": s.gtin} for s in supplied],
            "owing": [{"item": o.item_id, "quantity": qty(o.quantity)} for o in owings],
        },
    )  # fmt: skip
    return DispensingResult(
        dispensing.id, rx.id, rx.status, tuple(supplied), tuple(owings), tuple(entries), tuple(plan.warnings)
    )


def _write_line(
    session: Session,
    ctx: ServiceContext,
    dispensing: Dispensing,
    plan: Plan,
    item: PrescriptionItem,
    amount: Decimal,
    scan: ScanResult | None,
) -> SuppliedLine:
    owing = plan.owings.get(item.id)
    line = DispensingLine(
        id=new_id(),
        dispensing_id=dispensing.id,
        item_id=item.id,
        ampp_id=scan.ampp_id if scan else None,
        gtin=scan.gtin if scan else None,
        product_name=(scan.pack_name if scan else None) or item.product_name,
        quantity=amount,
        owing_id=owing.id if owing else None,  # the owing this line supplies
    )
    queue_object(session, line)
    enqueue(session, ctx, line)
    return SuppliedLine(line.id, item.id, line.product_name, amount, item.unit, line.ampp_id, line.gtin)


def _settle_items(session: Session, ctx: ServiceContext, plan: Plan) -> list[OwingInfo]:
    """Add what was supplied to each item; close the owings supplied against; owe what is still outstanding."""
    still_owed = []
    for item in plan.rx.items:
        supplied_now = plan.totals.get(item.id)
        owing = plan.owings.get(item.id)
        if supplied_now is not None:
            item.quantity_supplied += supplied_now
            if owing is not None:
                close_owing(session, ctx, owing)
                owing = None
        outstanding = item.quantity - item.quantity_supplied
        # An item past its own validity (a Schedule 2-4 item after 28 days) is owed no more: it has lapsed.
        lapsed = plan.rx.appropriate_date is not None and ctx.today() > item_valid_until(
            plan.rx.appropriate_date, item.cd_schedule
        )
        if outstanding > 0 and owing is None and not lapsed:
            owing = open_owing(session, ctx, plan.rx, item, outstanding)
        if outstanding <= 0:
            status = ItemSupply.SUPPLIED.value
        else:
            status = (ItemSupply.OWING if owing is not None else ItemSupply.EXPIRED).value
        if supplied_now is not None or item.status != status:
            item.status = status
            values = {"quantity_supplied": item.quantity_supplied, "status": status}
            update_row(session, PrescriptionItem.__table__, item.id, values)
            enqueue(session, ctx, item, "update")
        if owing is not None:
            still_owed.append(owing_info(owing, item))
    return still_owed


def _write_register(
    session: Session,
    ctx: ServiceContext,
    catalogue: Catalogue,
    plan: Plan,
    organisation_id: str,
    dispensing_id: str,
) -> list[str]:
    if plan.particulars is None:
        return []
    entries = []
    for item in plan.register_items:
        entry = cd_register.record_supply(
            session, ctx, organisation_id,
            product_id=item.vmp_id, product_name=register_name(catalogue, item), quantity=plan.totals[item.id],
            particulars=plan.particulars, dispensing_id=dispensing_id,
        )  # fmt: skip
        entries.append(entry.id)
    return entries
