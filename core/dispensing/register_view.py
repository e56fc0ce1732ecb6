"""The controlled drugs register as people read it, on screen and on paper: who each entry was from or for, who
prescribed, who entered it (by name), and what it refers to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from core.context import UK, ServiceContext
from core.dispensing.cd_register import register_entries
from core.storage.models import CdRegisterEntry, User


@dataclass(frozen=True)
class RegisterLine:
    entry_id: str
    seq: int
    recorded_at: datetime  # UK time
    kind: str  # receipt | supply | correction
    counterparty: str  # the supplier (receipt) or the patient's name and address (supply); "" for a correction
    prescriber: str | None
    quantity: Decimal  # signed
    balance: Decimal  # after this entry
    entered_by: str  # the user's full name
    reference: str  # the reason of a correction, else the prescription a supply was against
    corrects_seq: int | None  # the entry a correction puts right


def counterparty(entry: CdRegisterEntry) -> str:
    if entry.kind == "receipt":
        return entry.supplier or ""
    if entry.kind == "supply":
        return ", ".join(p for p in (entry.patient_name, entry.patient_address) if p)
    return ""


def prescriber(entry: CdRegisterEntry) -> str | None:
    return ", ".join(p for p in (entry.prescriber_name, entry.prescriber_registration) if p) or None


def reference(entry: CdRegisterEntry) -> str:
    return entry.reason or (f"Rx {entry.dispensing_id[-8:]}" if entry.dispensing_id else "")


def user_names(ctx: ServiceContext) -> dict[str, str]:
    with ctx.database.reader() as session:
        return dict(session.execute(select(User.id, User.full_name)).tuples().all())


def register_lines(ctx: ServiceContext, product_vmp_id: str) -> list[RegisterLine]:
    """A product's whole register in order (pharmacists: ``register_entries`` checks the role)."""
    entries = register_entries(ctx, product_vmp_id)
    names = user_names(ctx)
    seqs = {entry.id: entry.seq for entry in entries}
    return [
        RegisterLine(
            entry_id=entry.id,
            seq=entry.seq,
            recorded_at=entry.created_at.astimezone(UK),
            kind=entry.kind,
            counterparty=counterparty(entry),
            prescriber=prescriber(entry),
            quantity=entry.quantity,
            balance=entry.balance,
            entered_by=names.get(entry.entered_by, entry.entered_by),
            reference=reference(entry),
            corrects_seq=seqs.get(entry.corrects_id) if entry.corrects_id else None,
        )
        for entry in entries
    ]
