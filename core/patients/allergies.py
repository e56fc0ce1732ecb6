"""Allergies and intolerances to dm+d substances (an ingredient or a VTM), with the name as it was when recorded.

Allergies are never deleted: removing one tombstones it (``deleted_at``), and the reason is in the audit event.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.dmd.errors import DmdError
from core.errors import DuplicateRecord, NotFound, ValidationError
from core.outbox import enqueue, row_payload
from core.patients.records import get_patient
from core.storage.models import Allergy
from core.users.roles import Permission, require

MAX_REACTION_LENGTH = 300
MAX_REASON_LENGTH = 500


class AllergyKind(StrEnum):
    ALLERGY = "allergy"
    INTOLERANCE = "intolerance"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class SubstanceKind(StrEnum):
    INGREDIENT = "ingredient"  # dm+d ING, id ISID
    VTM = "vtm"  # virtual therapeutic moiety, id VTMID


# Catalogue kind (as Catalogue.resolve_id names it) → how an allergy records it, and the table to read the name from.
_SUBSTANCE_TABLES = {"ing": (SubstanceKind.INGREDIENT, "ing", "isid"), "vtm": (SubstanceKind.VTM, "vtm", "vtmid")}


_E = TypeVar("_E", bound=StrEnum)


def _choice(enum: type[_E], value: str, what: str) -> _E:
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(f"{value!r} is not a {what}: use one of {allowed}.") from None


def find_substance(catalogue: Catalogue, substance_id: int | str) -> tuple[SubstanceKind, str, str]:
    """(kind, current id, name) of a dm+d ingredient or VTM; old ids resolve to the current one. ValidationError."""
    try:
        resolved = catalogue.resolve_id(substance_id)
    except DmdError as exc:
        raise ValidationError(f"Substance: {exc}") from None
    if resolved.kind not in _SUBSTANCE_TABLES:
        raise ValidationError(
            f"Substance: dm+d id {resolved.id} is a {resolved.kind.upper()}, not an ingredient or a VTM: "
            "record the allergy against the substance."
        )
    kind, table, id_column = _SUBSTANCE_TABLES[resolved.kind]
    row = catalogue.conn.execute(f"SELECT nm, invalid FROM {table} WHERE {id_column} = ?", (resolved.id,)).fetchone()
    if row is None:  # pragma: no cover - resolve_id found it in this table
        raise ValidationError(f"Substance: no ingredient or VTM has the dm+d id {substance_id}.")
    if row[1]:
        raise ValidationError(f"Substance: {row[0]} ({resolved.id}) is marked invalid in dm+d: choose another entry.")
    return kind, str(resolved.id), str(row[0])


def record_allergy(
    ctx: ServiceContext,
    patient_id: str,
    catalogue: Catalogue,
    substance_id: int | str,
    kind: AllergyKind | str,
    reaction: str,
    severity: Severity | str,
) -> Allergy:
    """Record an allergy or intolerance. Raises ValidationError, NotFound, or DuplicateRecord when it is on file."""
    require(ctx, Permission.RECORD_ALLERGIES)
    allergy_kind = _choice(AllergyKind, kind, "kind of reaction")
    level = _choice(Severity, severity, "severity")
    reaction_text = " ".join(reaction.split())
    if not reaction_text:
        raise ValidationError("Reaction: describe the reaction (for example rash, anaphylaxis, or unknown).")
    if len(reaction_text) > MAX_REACTION_LENGTH:
        raise ValidationError(f"Reaction: at most {MAX_REACTION_LENGTH} characters.")
    substance_kind, current_id, name = find_substance(catalogue, substance_id)
    now = ctx.now()
    with ctx.database.transaction() as session:
        patient = get_patient(session, patient_id)
        existing = session.execute(
            select(Allergy).where(
                Allergy.patient_id == patient.id, Allergy.substance_id == current_id, Allergy.deleted_at.is_(None)
            )
        ).scalar()
        if existing is not None:
            raise DuplicateRecord(
                f"An {existing.kind} to {existing.substance_name} is already recorded for "
                f"{patient.given_name} {patient.family_name}: edit or remove that one."
            )
        allergy = Allergy(
            patient_id=patient.id,
            kind=allergy_kind.value,
            substance_kind=substance_kind.value,
            substance_id=current_id,
            substance_name=name,
            reaction=reaction_text,
            severity=level.value,
            recorded_by=ctx.actor.user_id,
            recorded_at=now,
            updated_at=now,
            deleted_at=None,
        )
        session.add(allergy)
        session.flush()
        record_event(session, ctx, "allergy.record", "allergy", allergy.id, after=row_payload(allergy))
        enqueue(session, ctx, allergy, "create")
    return allergy


def remove_allergy(ctx: ServiceContext, allergy_id: str, reason: str) -> Allergy:
    """Mark an allergy as entered in error or no longer relevant (a tombstone); the reason goes to the audit log."""
    require(ctx, Permission.RECORD_ALLERGIES)
    why = " ".join(reason.split())
    if not why:
        raise ValidationError("Reason: say why the allergy is removed.")
    if len(why) > MAX_REASON_LENGTH:
        raise ValidationError(f"Reason: at most {MAX_REASON_LENGTH} characters.")
    with ctx.database.transaction() as session:
        allergy = session.get(Allergy, allergy_id)
        if allergy is None or allergy.deleted_at is not None:
            raise NotFound("No such allergy (it may have been removed already).")
        now = ctx.now()
        allergy.deleted_at = now
        allergy.updated_at = now
        session.flush()
        record_event(
            session,
            ctx,
            "allergy.remove",
            "allergy",
            allergy.id,
            before={"deleted_at": None},
            after={"deleted_at": now.isoformat(), "reason": why},
        )
        enqueue(session, ctx, allergy, "update")
    return allergy


def list_allergies(source: Session | ServiceContext, patient_id: str) -> list[Allergy]:
    """The patient's current allergies and intolerances (removed ones left out), severe first, then by name.

    Pass a ServiceContext (the permission is checked) or a Session already open (e.g. while signing a prescription).
    """
    query = (
        select(Allergy)
        .where(Allergy.patient_id == patient_id, Allergy.deleted_at.is_(None))
        .order_by(Allergy.recorded_at)
    )
    if isinstance(source, Session):
        rows = list(source.execute(query).scalars())
    else:
        require(source, Permission.VIEW_PATIENTS)
        with source.database.reader() as session:
            rows = list(session.execute(query).scalars())
    order = {Severity.SEVERE: 0, Severity.MODERATE: 1, Severity.MILD: 2}
    return sorted(rows, key=lambda a: (order.get(Severity(a.severity), 3), a.substance_name.casefold()))
