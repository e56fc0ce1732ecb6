"""A patient's medication history: every prescription and every dispensing, newest first.

Read straight from the prescription and dispensing tables, so it shows whatever those services wrote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select

from core.context import ServiceContext
from core.patients.records import get_patient
from core.storage.models import Dispensing, DispensingLine, Prescription, PrescriptionItem, User
from core.users.roles import Permission, require


class EntryKind(StrEnum):
    PRESCRIPTION = "prescription"
    DISPENSING = "dispensing"


@dataclass(frozen=True)
class HistoryLine:
    product_name: str
    quantity: Decimal
    status: str | None  # a prescription item's status; None for a pack supplied
    unit: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    kind: EntryKind
    id: str  # the prescription's or the dispensing's id
    prescription_id: str
    at: datetime  # signed (or created, if never signed) / dispensed
    status: str | None  # the prescription's status; None for a dispensing
    by: str  # the prescriber's or pharmacist's full name
    lines: tuple[HistoryLine, ...]


def medication_history(ctx: ServiceContext, patient_id: str) -> list[HistoryEntry]:
    require(ctx, Permission.VIEW_PRESCRIPTIONS)
    with ctx.database.reader() as session:
        get_patient(session, patient_id)
        prescriptions = list(
            session.execute(select(Prescription).where(Prescription.patient_id == patient_id)).scalars()
        )
        ids = [p.id for p in prescriptions]
        items: dict[str, list[PrescriptionItem]] = defaultdict(list)
        dispensings: list[Dispensing] = []
        lines: dict[str, list[DispensingLine]] = defaultdict(list)
        if ids:
            for item in session.execute(
                select(PrescriptionItem)
                .where(PrescriptionItem.prescription_id.in_(ids))
                .order_by(PrescriptionItem.position)
            ).scalars():
                items[item.prescription_id].append(item)
            dispensings = list(session.execute(select(Dispensing).where(Dispensing.prescription_id.in_(ids))).scalars())
        if dispensings:
            for line in session.execute(
                select(DispensingLine).where(DispensingLine.dispensing_id.in_([d.id for d in dispensings]))
            ).scalars():
                lines[line.dispensing_id].append(line)
        user_ids = {p.prescriber_id for p in prescriptions} | {d.pharmacist_id for d in dispensings}
        names = dict(session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).tuples().all())
    entries = [
        HistoryEntry(
            EntryKind.PRESCRIPTION,
            p.id,
            p.id,
            p.signed_at or p.created_at,
            p.status,
            names.get(p.prescriber_id, ""),
            tuple(HistoryLine(i.product_name, i.quantity, i.status, i.unit) for i in items[p.id]),
        )
        for p in prescriptions
    ]
    entries += [
        HistoryEntry(
            EntryKind.DISPENSING,
            d.id,
            d.prescription_id,
            d.dispensed_at,
            None,
            names.get(d.pharmacist_id, ""),
            tuple(HistoryLine(line.product_name, line.quantity, None) for line in lines[d.id]),
        )
        for d in dispensings
    ]
    return sorted(entries, key=lambda e: (e.at, e.kind == EntryKind.DISPENSING, e.id), reverse=True)
