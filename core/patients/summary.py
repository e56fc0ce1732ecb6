"""How a patient is named on screen wherever a prescription is handled: surname first, date of birth, NHS number."""

from __future__ import annotations

from core.storage.models import Patient
from core.validation.nhs_number import format_nhs_number


def patient_summary(p: Patient) -> str:
    nhs = f" · NHS {format_nhs_number(p.nhs_number)}" if p.nhs_number else ""
    return f"{p.family_name.upper()}, {p.given_name} · born {p.date_of_birth:%d/%m/%Y}{nhs}"
