"""Register and edit patients: input checked and normalised once, duplicates refused or confirmed, every write audited.

Each write is one transaction holding the patient row, its audit event and its outbox row: all three or none.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import DuplicateRecord, NotFound, ValidationError
from core.outbox import enqueue, row_payload
from core.patients.notifications import NotifyBy, notify_problems, parse_notify_by
from core.storage.models import Patient
from core.users.roles import Permission, require
from core.validation.contact import normalise_email, normalise_phone, normalise_postcode, postcode_key
from core.validation.nhs_number import format_nhs_number, normalise_nhs_number

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_NAME_LENGTH = 100
MAX_TITLE_LENGTH = 20
MAX_ADDRESS_LENGTH = 500

FIELD_LABELS = {
    "nhs_number": "NHS number",
    "title": "Title",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "address": "Address",
    "postcode": "Postcode",
    "phone": "Phone",
    "email": "Email",
    "notify_by": "Tell them by",
    "consent": "Consent",
}
# The patient columns a user enters (the rest are derived: keys, timestamps, ids); consent is kept as when and by
# whom it was recorded (consent_at, consent_by).
EDITABLE_FIELDS = tuple(name for name in FIELD_LABELS if name != "consent")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"  # indeterminate / stated otherwise
    UNKNOWN = "unknown"


_SEX_WORDS = {
    "f": Sex.FEMALE,
    "female": Sex.FEMALE,
    "woman": Sex.FEMALE,
    "2": Sex.FEMALE,  # NHS Data Dictionary person stated gender codes
    "m": Sex.MALE,
    "male": Sex.MALE,
    "man": Sex.MALE,
    "1": Sex.MALE,
    "other": Sex.OTHER,
    "o": Sex.OTHER,
    "i": Sex.OTHER,
    "indeterminate": Sex.OTHER,
    "9": Sex.OTHER,
    "unknown": Sex.UNKNOWN,
    "u": Sex.UNKNOWN,
    "not known": Sex.UNKNOWN,
    "not specified": Sex.UNKNOWN,
    "0": Sex.UNKNOWN,
}


class FieldError(ValidationError):
    """A ValidationError about one input field; ``field`` is the attribute name, the message starts with its label."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{FIELD_LABELS.get(field, field)}: {message}")
        self.field = field


@dataclass(frozen=True)
class DuplicateCandidate:
    """An existing patient a new record may duplicate (plain values: usable after the transaction is gone)."""

    patient_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    nhs_number: str | None
    postcode: str | None

    @classmethod
    def of(cls, patient: Patient) -> DuplicateCandidate:
        return cls(
            patient.id,
            patient.given_name,
            patient.family_name,
            patient.date_of_birth,
            patient.nhs_number,
            patient.postcode,
        )

    def describe(self, *, with_nhs_number: bool = True) -> str:
        parts = [f"{self.given_name} {self.family_name}", f"born {self.date_of_birth:%d/%m/%Y}"]
        if self.nhs_number and with_nhs_number:
            parts.append(f"NHS number {format_nhs_number(self.nhs_number)}")
        if self.postcode:
            parts.append(self.postcode)
        return ", ".join(parts)


class PossibleDuplicate(ValidationError):
    """A patient with the same name and date of birth is on file; create again with confirmation if it is not them."""

    def __init__(self, existing: list[DuplicateCandidate]) -> None:
        listed = "; ".join(c.describe() for c in existing)
        plural = "patients" if len(existing) > 1 else "a patient"
        super().__init__(
            f"Possible duplicate: {plural} with the same name and date of birth already on file ({listed}). "
            "Check it is not the same person, then confirm to register a new patient."
        )
        self.existing = existing


@dataclass(frozen=True)
class PatientDetails:
    """What a user enters for a patient. ``validated`` checks it and returns the canonical form that is stored."""

    given_name: str
    family_name: str
    date_of_birth: date
    nhs_number: str | None = None
    title: str | None = None
    sex: str | None = None
    address: str | None = None  # lines separated by newlines
    postcode: str | None = None
    phone: str | None = None
    email: str | None = None
    notify_by: str | None = None  # a NotifyBy: email, sms, both or none (None: none)
    consent: bool = False  # the patient agrees to be told that way

    @classmethod
    def of(cls, patient: Patient) -> PatientDetails:
        """The details of a stored patient (to fill an edit form)."""
        values = {name: getattr(patient, name) for name in EDITABLE_FIELDS}
        values["notify_by"] = patient.notify_by or NotifyBy.NONE.value
        return cls(**values, consent=patient.consent_at is not None)

    def validated(self, today: date) -> PatientDetails:
        """The checked, normalised details; raises FieldError (a ValidationError) naming the first bad field."""
        dob = self.date_of_birth
        if not isinstance(dob, date):
            raise FieldError("date_of_birth", "a date is required.")
        if isinstance(dob, datetime):
            dob = dob.date()
        if dob > today:
            raise FieldError("date_of_birth", f"{dob:%d/%m/%Y} is in the future.")
        if dob < EARLIEST_BIRTH_DATE:
            raise FieldError("date_of_birth", f"{dob:%d/%m/%Y} is before 1900.")
        valid = replace(
            self,
            date_of_birth=dob,
            given_name=_name("given_name", self.given_name),
            family_name=_name("family_name", self.family_name),
            nhs_number=_optional("nhs_number", self.nhs_number, normalise_nhs_number),
            title=_optional("title", self.title, _title),
            sex=_optional("sex", self.sex, _sex),
            address=_optional("address", self.address, _address),
            postcode=_optional("postcode", self.postcode, normalise_postcode),
            phone=_optional("phone", self.phone, normalise_phone),
            email=_optional("email", self.email, normalise_email),
            notify_by=_notify_by(self.notify_by),
            consent=bool(self.consent),
        )
        for rule in notify_problems(valid):
            raise FieldError(rule.field, rule.message)
        return valid

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def name_key(text: str) -> str:
    """The search form of a name: accents stripped, case folded, only letters and digits (O'Brien → obrien)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


def _clean(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _name(field: str, value: str | None) -> str:
    text = _clean(value or "")
    if not text:
        raise FieldError(field, "this is required.")
    if len(text) > MAX_NAME_LENGTH:
        raise FieldError(field, f"at most {MAX_NAME_LENGTH} characters.")
    if any(ch.isdigit() for ch in text):
        raise FieldError(field, f"{text} contains digits.")
    if not name_key(text):
        raise FieldError(field, f"{text} has no letters.")
    return text


def _optional(field: str, value: str | None, normalise: Any) -> Any:
    """Empty → None; otherwise the normaliser's result, its ValidationError relabelled with the field."""
    if value is None or not str(value).strip():
        return None
    try:
        return normalise(str(value))
    except FieldError:
        raise
    except ValidationError as exc:
        raise FieldError(field, str(exc)) from None


def _title(value: str) -> str:
    text = _clean(value)
    if len(text) > MAX_TITLE_LENGTH:
        raise ValidationError(f"at most {MAX_TITLE_LENGTH} characters.")
    return text


def _sex(value: str) -> str:
    sex = _SEX_WORDS.get(_clean(value).casefold())
    if sex is None:
        raise ValidationError(f"{value.strip()} is not one of female, male, other, unknown.")
    return sex.value


def _notify_by(value: str | None) -> str:
    try:
        return parse_notify_by(value).value
    except ValueError as exc:
        raise FieldError("notify_by", str(exc)) from None


def _address(value: str) -> str:
    lines = [_clean(line) for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(line for line in lines if line)
    if len(text) > MAX_ADDRESS_LENGTH:
        raise ValidationError(f"at most {MAX_ADDRESS_LENGTH} characters.")
    return text


# -- writing ---------------------------------------------------------------------------------------------


def apply_details(patient: Patient, details: PatientDetails) -> None:
    """Copy validated details onto a row, with the search keys derived from them."""
    for name in EDITABLE_FIELDS:
        setattr(patient, name, getattr(details, name))
    patient.family_key = name_key(details.family_name)
    patient.given_key = name_key(details.given_name)
    patient.postcode_key = postcode_key(details.postcode) if details.postcode else None


def new_patient_row(ctx: ServiceContext, details: PatientDetails) -> Patient:
    now = ctx.now()
    patient = Patient(organisation_id=ctx.actor.organisation_id, created_at=now, updated_at=now, deleted_at=None)
    apply_details(patient, details)
    record_consent(ctx, patient, details.consent)
    return patient


def record_consent(ctx: ServiceContext, patient: Patient, consent: bool) -> None:
    """Consent given (now, by the signed-in user) or withdrawn (cleared)."""
    patient.consent_at = ctx.now() if consent else None
    patient.consent_by = ctx.actor.user_id if consent else None


def consent_event(patient: Patient) -> dict[str, Any]:
    """What a consent event records: whether, to what, when and by whom (no contact details)."""
    return {
        "consent": patient.consent_at is not None,
        "notify_by": patient.notify_by,
        "consent_at": patient.consent_at.isoformat() if patient.consent_at else None,
        "consent_by": patient.consent_by,
    }


def holder_of_nhs_number(session: Session, nhs_number: str) -> Patient | None:
    """The patient holding an NHS number, removed (tombstoned) patients included: the number stays unique."""
    return session.execute(select(Patient).where(Patient.nhs_number == nhs_number)).scalar()


def nhs_number_taken(holder: Patient) -> DuplicateRecord:
    who = DuplicateCandidate.of(holder).describe(with_nhs_number=False)
    number = format_nhs_number(holder.nhs_number or "")
    if holder.deleted_at is not None:
        return DuplicateRecord(f"NHS number {number} belongs to a removed record ({who}).")
    return DuplicateRecord(f"NHS number {number} is already on file: {who}.")


def possible_duplicates(session: Session, details: PatientDetails, *, exclude_id: str | None = None) -> list[Patient]:
    """Patients on file with the same family name, given name and date of birth (case and accents ignored)."""
    query = select(Patient).where(
        Patient.family_key == name_key(details.family_name),
        Patient.given_key == name_key(details.given_name),
        Patient.date_of_birth == details.date_of_birth,
        Patient.deleted_at.is_(None),
    )
    if exclude_id is not None:
        query = query.where(Patient.id != exclude_id)
    return list(session.execute(query.order_by(Patient.created_at)).scalars())


def create_patient(
    ctx: ServiceContext, details: PatientDetails, *, confirm_possible_duplicate: bool = False
) -> Patient:
    """Register a patient. Raises FieldError, DuplicateRecord (NHS number on file) or PossibleDuplicate (same name
    and date of birth, unless ``confirm_possible_duplicate``: then the confirmation is part of the audit event)."""
    require(ctx, Permission.EDIT_PATIENTS)
    valid = details.validated(ctx.today())
    with ctx.database.transaction() as session:
        if valid.nhs_number is not None:
            holder = holder_of_nhs_number(session, valid.nhs_number)
            if holder is not None:
                raise nhs_number_taken(holder)
        similar = possible_duplicates(session, valid)
        if similar and not confirm_possible_duplicate:
            raise PossibleDuplicate([DuplicateCandidate.of(p) for p in similar])
        patient = new_patient_row(ctx, valid)
        session.add(patient)
        session.flush()
        after = row_payload(patient)
        if similar:
            after["confirmed_not_duplicate_of"] = [p.id for p in similar]
        record_event(session, ctx, "patient.create", "patient", patient.id, after=after)
        if valid.consent:
            record_event(session, ctx, "patient.consent", "patient", patient.id, after=consent_event(patient))
        enqueue(session, ctx, patient, "create")
    return patient


def get_patient(session: Session, patient_id: str) -> Patient:
    """A patient on file (not removed), or NotFound."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.deleted_at is not None:
        raise NotFound("No such patient.")
    return patient


def update_patient(
    ctx: ServiceContext, patient_id: str, details: PatientDetails, *, confirm_possible_duplicate: bool = False
) -> Patient:
    """Replace a patient's details. The audit event holds the changed fields only; nothing changed, nothing written.
    A new name or date of birth that matches another patient raises PossibleDuplicate unless confirmed."""
    require(ctx, Permission.EDIT_PATIENTS)
    valid = details.validated(ctx.today())
    with ctx.database.transaction() as session:
        patient = get_patient(session, patient_id)
        changed = [name for name in EDITABLE_FIELDS if getattr(patient, name) != getattr(valid, name)]
        had_consent = patient.consent_at is not None
        # Consent is to a way of being told: a new way while consent stands is consent recorded anew.
        consent_changed = valid.consent != had_consent or (valid.consent and "notify_by" in changed)
        if not changed and not consent_changed:
            return patient
        if "nhs_number" in changed and valid.nhs_number is not None:
            holder = holder_of_nhs_number(session, valid.nhs_number)
            if holder is not None and holder.id != patient.id:
                raise nhs_number_taken(holder)
        identity = {"given_name", "family_name", "date_of_birth"}
        similar = possible_duplicates(session, valid, exclude_id=patient.id) if identity & set(changed) else []
        if similar and not confirm_possible_duplicate:
            raise PossibleDuplicate([DuplicateCandidate.of(p) for p in similar])
        before = {name: _jsonable(getattr(patient, name)) for name in changed}
        consent_before = consent_event(patient)
        apply_details(patient, valid)
        if consent_changed:
            record_consent(ctx, patient, valid.consent)
        patient.updated_at = ctx.now()
        session.flush()
        after = {name: _jsonable(getattr(patient, name)) for name in changed}
        if changed:
            record_event(session, ctx, "patient.update", "patient", patient.id, before=before, after=after)
        if consent_changed:
            record_event(
                session, ctx, "patient.consent", "patient", patient.id, before=consent_before,
                after=consent_event(patient),
            )  # fmt: skip
        enqueue(session, ctx, patient, "update")
    return patient


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value
