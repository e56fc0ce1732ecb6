"""The controlled drugs register: one register per drug (VMP) per organisation, with a running balance.

Entries are never edited or deleted (SQLite triggers refuse it); a mistake is put right by a correction, a new entry
that names the entry it corrects and says why. Each entry carries ``seq`` (its place in the product's register) and
the balance after it; writers are serialised by ``BEGIN IMMEDIATE``, so reading the last entry and appending the
next cannot interleave on one database.

A supply that would take the balance below zero is a warning, not a block: the register must match the stock on
the shelf, and the usual cause is a delivery not yet booked in, so the pharmacist may go on with a recorded reason
(and should then book the receipt in). Corrections may leave a negative balance too: they always carry a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import load_chain_head, record_event
from core.context import UK, ServiceContext
from core.dispensing.access import organisation_of
from core.dispensing.values import MAX_QUANTITY, parse_quantity, qty
from core.errors import NotFound, ValidationError
from core.ids import new_id
from core.outbox import enqueue
from core.rules.model import MIN_OVERRIDE_REASON, Outcome, RuleResult
from core.storage.models import CdRegisterEntry
from core.storage.pending_rows import queue_object
from core.storage.raw import fetch_one
from core.users.roles import Permission, require

REGISTER_SCHEDULES = frozenset({2})  # supplies of these schedules are entered in the register (DESIGN.md §5)
RULE_NEGATIVE_BALANCE = "cd_balance_negative"
_HEADS_KEY = "cd_register_heads"


class EntryKind(StrEnum):
    RECEIPT = "receipt"
    SUPPLY = "supply"
    CORRECTION = "correction"


@dataclass(frozen=True)
class RegisterProduct:
    product_id: str  # the VMP
    product_name: str
    balance: Decimal
    entries: int
    last_entry_at: datetime


def in_register(schedule: int | None) -> bool:
    return schedule in REGISTER_SCHEDULES


def balance_of(session: Session, organisation_id: str, product_id: str) -> Decimal:
    return _head(session, organisation_id, product_id)[1]


def _head(session: Session, organisation_id: str, product_id: str) -> tuple[int, Decimal]:
    """The last seq and the balance of the product's register (0, 0 before the first entry).

    The balance is the total of every entry's signed quantity, not the balance written on the last entry: with two
    counters of a pharmacy entering supplies offline, each wrote its own "last" entry, and only the total counts
    them both. Read once per transaction, then carried in the session as entries are appended (as the audit
    chain head is): the transaction holds the write lock.
    """
    heads: dict[tuple[str, str], tuple[int, Decimal]] = session.info.setdefault(_HEADS_KEY, {})
    key = (organisation_id, product_id)
    if key not in heads:
        # Plain SQL: nothing of this product is queued yet in this transaction (appends update ``heads``). Summed
        # here: the quantities are exact decimals kept as text, which SQL would add as floats.
        rows = (
            session.connection()
            .exec_driver_sql(
                "SELECT seq, quantity FROM cd_register_entry WHERE organisation_id = ? AND product_id = ?",
                (organisation_id, product_id),
            )
            .all()
        )
        heads[key] = (max((int(r[0]) for r in rows), default=0), sum((Decimal(str(r[1])) for r in rows), Decimal(0)))
    return heads[key]


def negative_balance_warning(
    product_name: str, balance: Decimal, supplied: Decimal, item_id: str | None
) -> RuleResult | None:
    """A warning when supplying ``supplied`` from ``balance`` would leave less than nothing in the register."""
    after = balance - supplied
    if after >= 0:
        return None
    message = (
        f"The CD register balance of {product_name} is {qty(balance)}: supplying {qty(supplied)} would leave "
        f"{qty(after)}. Book in the stock received first, or give a reason."
    )
    return RuleResult(RULE_NEGATIVE_BALANCE, Outcome.WARN, message, item_id)


def append_entry(
    session: Session,
    ctx: ServiceContext,
    organisation_id: str,
    *,
    product_id: str,
    product_name: str,
    kind: EntryKind,
    quantity: Decimal,
    **details: Any,
) -> CdRegisterEntry:
    """Append one entry after the product's last, with the running balance; audited and queued for the server."""
    seq, balance = _head(session, organisation_id, product_id)
    load_chain_head(session)  # read before the first write: nothing is flushed until the commit
    entry = CdRegisterEntry(
        id=new_id(),
        seq=seq + 1,
        organisation_id=organisation_id,
        product_id=product_id,
        product_name=product_name,
        kind=kind.value,
        quantity=quantity,
        balance=balance + quantity,
        entered_by=ctx.actor.user_id,
        created_at=ctx.now(),
        **details,
    )
    queue_object(session, entry)  # append-only: a plain row, written with the transaction's other queued rows
    session.info[_HEADS_KEY][(organisation_id, product_id)] = (entry.seq, entry.balance)
    after = {"product": product_id, "seq": entry.seq, "quantity": qty(quantity), "balance": qty(entry.balance)}
    for key in ("dispensing_id", "supplier", "corrects_id", "reason"):
        if details.get(key):
            after[key] = details[key]
    record_event(session, ctx, f"cd_register.{kind.value}", "cd_register_entry", entry.id, after=after)
    enqueue(session, ctx, entry)
    return entry


@dataclass(frozen=True)
class SupplyParticulars:
    """Who a supply is for and who prescribed it, as the register records them."""

    patient_id: str
    patient_name: str
    patient_address: str | None
    prescriber_name: str
    prescriber_registration: str | None


def supply_particulars(session: Session, prescription_id: str) -> SupplyParticulars:
    """Read in one query (only the columns the register needs: this is on every Schedule 2 dispensing)."""
    row = fetch_one(
        session,
        "SELECT p.id, p.title, p.given_name, p.family_name, p.address, p.postcode, u.full_name, "
        "u.registration_number FROM prescription rx JOIN patient p ON p.id = rx.patient_id "
        "JOIN user_account u ON u.id = rx.prescriber_id WHERE rx.id = ?",
        (prescription_id,),
    )
    if row is None:  # unreachable through the foreign keys; never write an entry without them
        raise ValidationError("The patient or prescriber of this prescription is missing from this workstation.")
    patient_id, title, given, family, address, postcode, prescriber, registration = row
    name = " ".join(part for part in (title, given, family) if part)
    lines = [line for line in (address or "").splitlines() if line.strip()] + ([postcode] if postcode else [])
    return SupplyParticulars(patient_id, name, "\n".join(lines) or None, prescriber, registration)


def record_supply(
    session: Session,
    ctx: ServiceContext,
    organisation_id: str,
    *,
    product_id: str,
    product_name: str,
    quantity: Decimal,
    particulars: SupplyParticulars,
    dispensing_id: str,
) -> CdRegisterEntry:
    """The register entry of a supply to a patient, in the dispensing's transaction (quantity as supplied, > 0)."""
    p = particulars
    return append_entry(
        session, ctx, organisation_id,
        product_id=product_id, product_name=product_name, kind=EntryKind.SUPPLY, quantity=-quantity,
        patient_id=p.patient_id, patient_name=p.patient_name, patient_address=p.patient_address,
        prescriber_name=p.prescriber_name, prescriber_registration=p.prescriber_registration,
        dispensing_id=dispensing_id,
    )  # fmt: skip


def _product_id(value: str) -> str:
    product_id = value.strip()
    if not (product_id.isdigit() and product_id.isascii() and len(product_id) <= 18):
        raise ValidationError(f"{value!r} is not a dm+d product id.")
    return product_id


def _text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise ValidationError(f"The {what} is required.")
    if len(text) > limit:
        raise ValidationError(f"The {what} is too long (at most {limit} characters).")
    return text


def record_receipt(
    ctx: ServiceContext, product_vmp_id: str, product_name: str, quantity: Decimal | int | str, supplier: str
) -> CdRegisterEntry:
    """Stock received from a supplier: a positive entry."""
    require(ctx, Permission.CD_REGISTER)
    organisation_id = organisation_of(ctx)
    product_id = _product_id(product_vmp_id)
    name = _text(product_name, "product name", 500)
    amount = parse_quantity(quantity)
    supplier_name = _text(supplier, "supplier's name and address", 200)
    with ctx.database.transaction() as session:
        return append_entry(
            session, ctx, organisation_id,
            product_id=product_id, product_name=name, kind=EntryKind.RECEIPT, quantity=amount, supplier=supplier_name,
        )  # fmt: skip


def _delta(value: Decimal | int | str) -> Decimal:
    try:
        delta = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"{value!r} is not a quantity.") from None
    if not delta.is_finite() or delta == 0:
        raise ValidationError("A correction changes the balance: give a quantity other than 0 (+ or −).")
    if abs(delta) > MAX_QUANTITY or int(delta.as_tuple().exponent) < -3:
        raise ValidationError(f"Give the correction to at most 3 decimal places, at most {MAX_QUANTITY}.")
    return delta


def record_correction(
    ctx: ServiceContext, entry_id: str, quantity_delta: Decimal | int | str, reason: str
) -> CdRegisterEntry:
    """Put a mistake right with a new entry that names the one corrected; the balance moves by ``quantity_delta``."""
    require(ctx, Permission.CD_REGISTER)
    organisation_id = organisation_of(ctx)
    delta = _delta(quantity_delta)
    why = reason.strip()
    if len(why) < MIN_OVERRIDE_REASON:
        raise ValidationError("Say why the register is corrected (the reason is kept with the entry).")
    _text(why, "reason", 500)
    with ctx.database.transaction() as session:
        corrected = session.get(CdRegisterEntry, entry_id)
        if corrected is None or corrected.organisation_id != organisation_id:
            raise NotFound("No such entry in this organisation's CD register.")
        return append_entry(
            session, ctx, organisation_id,
            product_id=corrected.product_id, product_name=corrected.product_name, kind=EntryKind.CORRECTION,
            quantity=delta, corrects_id=corrected.id, reason=why,
        )  # fmt: skip


# Register order: when entered (each counter's own seq breaks ties), the same on every workstation.
_REGISTER_ORDER = (CdRegisterEntry.created_at, CdRegisterEntry.seq, CdRegisterEntry.id)


def register_entries(
    ctx: ServiceContext, product_vmp_id: str, start: date | None = None, end: date | None = None
) -> list[CdRegisterEntry]:
    """A product's register in order, optionally only entries made from ``start`` to ``end`` (inclusive, UK days).

    Each entry's ``balance`` is the running balance in register order: the total of the quantities up to it,
    counting the entries every counter of the pharmacy made (the entries come back detached; nothing is written).
    """
    require(ctx, Permission.CD_REGISTER)
    organisation_id = organisation_of(ctx)
    statement = select(CdRegisterEntry).where(
        CdRegisterEntry.organisation_id == organisation_id, CdRegisterEntry.product_id == product_vmp_id.strip()
    )
    with ctx.database.reader() as session:
        entries = list(session.execute(statement.order_by(*_REGISTER_ORDER)).scalars())
        session.expunge_all()
    running = Decimal(0)
    for entry in entries:
        running += entry.quantity
        entry.balance = running
    first = datetime.combine(start, time.min, UK) if start is not None else None
    after_last = datetime.combine(end + timedelta(1), time.min, UK) if end is not None else None
    return [
        e
        for e in entries
        if (first is None or e.created_at >= first) and (after_last is None or e.created_at < after_last)
    ]


def register_products(ctx: ServiceContext) -> list[RegisterProduct]:
    """Every product with a register in this organisation: its name and balance (the total of its entries)."""
    require(ctx, Permission.CD_REGISTER)
    organisation_id = organisation_of(ctx)
    with ctx.database.reader() as session:
        rows = session.execute(
            select(
                CdRegisterEntry.product_id,
                CdRegisterEntry.product_name,
                CdRegisterEntry.quantity,
                CdRegisterEntry.created_at,
            )
            .where(CdRegisterEntry.organisation_id == organisation_id)
            .order_by(*_REGISTER_ORDER)
        ).all()
    totals: dict[str, RegisterProduct] = {}
    for product_id, name, quantity, created_at in rows:
        known = totals.get(product_id)
        balance = (known.balance if known else Decimal(0)) + quantity
        totals[product_id] = RegisterProduct(product_id, name, balance, (known.entries if known else 0) + 1, created_at)
    return sorted(totals.values(), key=lambda p: (p.product_name.casefold(), p.product_id))
