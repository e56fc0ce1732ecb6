"""Writing a prescription: a draft, its items with a snapshot of the product. Drafts stay on this workstation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.audit.log import record_event
from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.dmd.errors import DmdError
from core.errors import InvalidTransition, NotFound, ValidationError
from core.prescriptions.products import product_snapshot
from core.prescriptions.quantity_words import quantity_in_words
from core.prescriptions.queries import get_item, get_prescription
from core.prescriptions.status import PrescriptionStatus
from core.rules.prescribing import CD_WRITING_SCHEDULES
from core.storage.models import Patient, Prescription, PrescriptionItem
from core.users.roles import Permission, require

MAX_REPEAT_ISSUES = 13  # a year of four-weekly issues
MAX_ITEMS = 20


def create_prescription(
    ctx: ServiceContext,
    patient_id: str,
    *,
    not_before: date | None = None,
    repeat_total: int | None = None,
    repeat_interval_days: int | None = None,
) -> Prescription:
    require(ctx, Permission.PRESCRIBE)
    if ctx.actor.organisation_id is None:
        raise ValidationError("You are not a member of a clinic: ask an admin to add you to one.")
    _check_repeat(repeat_total, repeat_interval_days)
    now = ctx.now()
    with ctx.database.transaction() as session:
        patient = session.get(Patient, patient_id)
        if patient is None or patient.deleted_at is not None:
            raise NotFound("No such patient.")
        rx = Prescription(
            organisation_id=ctx.actor.organisation_id,
            patient_id=patient_id,
            prescriber_id=ctx.actor.user_id,
            status=PrescriptionStatus.DRAFT.value,
            not_before=not_before,
            repeat_issue=1 if repeat_total else None,
            repeat_total=repeat_total,
            repeat_interval_days=repeat_interval_days,
            created_at=now,
            updated_at=now,
        )
        session.add(rx)
        session.flush()
        record_event(session, ctx, "prescription.create", "prescription", rx.id, after={"patient": patient_id})
    return rx


def _check_repeat(repeat_total: int | None, repeat_interval_days: int | None) -> None:
    if repeat_total is not None:
        if not 2 <= repeat_total <= MAX_REPEAT_ISSUES:
            raise ValidationError(f"A repeat prescription has 2 to {MAX_REPEAT_ISSUES} issues.")
        if repeat_interval_days is None or not 7 <= repeat_interval_days <= 91:
            raise ValidationError("A repeat prescription needs an interval of 7 to 91 days between issues.")
    elif repeat_interval_days is not None:
        raise ValidationError("An interval is only given for a repeat prescription.")


def set_draft_options(
    ctx: ServiceContext,
    prescription_id: str,
    *,
    not_before: date | None,
    repeat_total: int | None,
    repeat_interval_days: int | None,
) -> Prescription:
    """Change a draft's start date or make it a repeat (or not): what create_prescription was given."""
    require(ctx, Permission.PRESCRIBE)
    _check_repeat(repeat_total, repeat_interval_days)
    with ctx.database.transaction() as session:
        rx = get_prescription(session, prescription_id)
        _check_own_draft(ctx, rx)
        before = {"not_before": rx.not_before, "repeat_total": rx.repeat_total, "interval": rx.repeat_interval_days}
        rx.not_before = not_before
        rx.repeat_total = repeat_total
        rx.repeat_issue = 1 if repeat_total else None
        rx.repeat_interval_days = repeat_interval_days
        rx.updated_at = ctx.now()
        after = {"not_before": not_before, "repeat_total": repeat_total, "interval": repeat_interval_days}
        if after != before:
            record_event(session, ctx, "prescription.options", "prescription", rx.id, before=before, after=after)
    return rx


def _quantity(value: Decimal | int | str) -> Decimal:
    try:
        quantity = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{value!r} is not a quantity.") from None
    if not quantity.is_finite() or quantity <= 0 or quantity > 100000:
        raise ValidationError("The quantity must be more than 0.")
    if quantity.as_tuple().exponent < -3:  # type: ignore[operator]
        raise ValidationError("Give the quantity to at most 3 decimal places.")
    return quantity


def add_item(
    ctx: ServiceContext,
    catalogue: Catalogue,
    prescription_id: str,
    product_id: str,
    *,
    dose: str,
    directions: str,
    quantity: Decimal | int | str,
    days_supply: int | None = None,
    quantity_in_words_text: str | None = None,
) -> PrescriptionItem:
    """Add a VMP or AMP to a draft. For Schedule 2/3 the quantity in words is filled from the figures if not given."""
    require(ctx, Permission.PRESCRIBE)
    amount = _quantity(quantity)
    if not directions.strip():
        raise ValidationError("Directions are required (they are printed on the label).")
    if days_supply is not None and not 1 <= days_supply <= 366:
        raise ValidationError("Days' supply is between 1 and 366.")
    try:
        product = product_snapshot(catalogue, product_id)
    except DmdError as exc:
        raise ValidationError(str(exc)) from exc
    words = (quantity_in_words_text or "").strip() or None
    if words is None and product.cd_schedule in CD_WRITING_SCHEDULES:
        words = quantity_in_words(amount, product.unit)
    with ctx.database.transaction() as session:
        rx = get_prescription(session, prescription_id)
        _check_own_draft(ctx, rx)
        if len(rx.items) >= MAX_ITEMS:
            raise ValidationError(f"A prescription has at most {MAX_ITEMS} items.")
        item = PrescriptionItem(
            prescription_id=rx.id,
            position=len(rx.items) + 1,
            vmp_id=product.vmp_id,
            amp_id=product.amp_id,
            product_name=product.name,
            strength=product.strength,
            form=product.form,
            unit=product.unit,
            cd_schedule=product.cd_schedule,
            ingredient_ids=" ".join(product.ingredient_ids),
            dose=dose.strip(),
            directions=directions.strip(),
            quantity=amount,
            quantity_in_words=words,
            days_supply=days_supply,
            quantity_supplied=Decimal(0),
            status="pending",
        )
        rx.items.append(item)
        rx.updated_at = ctx.now()
        session.flush()
        record_event(
            session,
            ctx,
            "prescription.add_item",
            "prescription",
            rx.id,
            after={"item": item.id, "product": product.name, "quantity": format(amount, "f")},
        )
    return item


def remove_item(ctx: ServiceContext, item_id: str) -> None:
    require(ctx, Permission.PRESCRIBE)
    with ctx.database.transaction() as session:
        item = get_item(session, item_id)
        rx = item.prescription
        _check_own_draft(ctx, rx)
        rx.items.remove(item)
        for position, remaining in enumerate(rx.items, start=1):
            remaining.position = position
        rx.updated_at = ctx.now()
        record_event(
            session, ctx, "prescription.remove_item", "prescription", rx.id,
            before={"item": item.id, "product": item.product_name},
        )  # fmt: skip


def my_drafts(ctx: ServiceContext, patient_id: str) -> list[Prescription]:
    """The signed-in prescriber's unsigned drafts for a patient, newest first: to carry on with one."""
    require(ctx, Permission.PRESCRIBE)
    with ctx.database.reader() as session:
        return list(
            session.execute(
                select(Prescription)
                .where(
                    Prescription.patient_id == patient_id,
                    Prescription.prescriber_id == ctx.actor.user_id,
                    Prescription.status == PrescriptionStatus.DRAFT.value,
                )
                .order_by(Prescription.created_at.desc())
                .options(selectinload(Prescription.items))
            ).scalars()
        )


def _check_own_draft(ctx: ServiceContext, rx: Prescription) -> None:
    if rx.status != PrescriptionStatus.DRAFT:
        raise InvalidTransition(f"A {rx.status} prescription cannot be changed: only drafts can.")
    if rx.prescriber_id != ctx.actor.user_id:
        raise ValidationError("Only the prescriber who started this draft can change it.")
