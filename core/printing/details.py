"""The people and places on every printout, from their rows."""

from __future__ import annotations

from core.documents.model import OrganisationDetails, PatientDetails, PrescriberDetails
from core.storage.models import Organisation, Patient, User
from core.users.roles import PrescriberType
from core.users.service import REGISTRATION_BODY

PROFESSIONS = {
    PrescriberType.DOCTOR: "Doctor",
    PrescriberType.NURSE: "Nurse Independent Prescriber",
    PrescriberType.DENTIST: "Dentist",
    PrescriberType.PHARMACIST_PRESCRIBER: "Pharmacist Independent Prescriber",
}


def address_lines(text: str | None) -> tuple[str, ...]:
    return tuple(line.strip() for line in (text or "").splitlines() if line.strip())


def organisation_details(org: Organisation) -> OrganisationDetails:
    return OrganisationDetails(org.name, address_lines(org.address), org.postcode, org.phone)


def patient_name(patient: Patient) -> str:
    return " ".join(part for part in (patient.title, patient.given_name, patient.family_name.upper()) if part)


def patient_details(patient: Patient) -> PatientDetails:
    return PatientDetails(
        name=patient_name(patient),
        date_of_birth=patient.date_of_birth,
        nhs_number=patient.nhs_number,
        address_lines=address_lines(patient.address) or ("No fixed abode",),
        postcode=patient.postcode,
    )


def prescriber_details(user: User) -> PrescriberDetails:
    kind = PrescriberType(user.prescriber_type) if user.prescriber_type else None
    if kind is None or not user.registration_number:
        raise ValueError(f"{user.full_name} has no prescriber type or registration number to print.")
    return PrescriberDetails(user.full_name, PROFESSIONS[kind], f"{REGISTRATION_BODY[kind]} {user.registration_number}")
