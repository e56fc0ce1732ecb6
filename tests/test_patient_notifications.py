"""How a patient wants to be told about their prescriptions, and their consent: the rules (one table, a test per
row), UK mobile numbers, consent recorded and withdrawn with its own audit events, CSV import and the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from core.audit.log import audit_trail, verify_chain
from core.patients.csv_import import import_patients_csv
from core.patients.notifications import NOTIFY_RULES, NotifyBy, consent_sentence, notify_problems, parse_notify_by
from core.patients.records import FieldError, PatientDetails, create_patient, get_patient, update_patient
from core.storage.models import OutboxEntry
from core.validation.contact import MOBILE_PREFIXES, is_uk_mobile, mobile_e164
from tests.backend_functions import load_function
from tests.clinic import Clinic

MOBILE = "07700 900123"
LANDLINE = "0113 496 0111"
EMAIL = "mair.lloyd@example.org"


def details(**changes: object) -> PatientDetails:
    values: dict[str, object] = {"given_name": "Mair", "family_name": "Lloyd", "date_of_birth": date(1950, 12, 12)}
    values.update(changes)
    return PatientDetails(**values)  # type: ignore[arg-type]


# Each rule: details that break it, and the nearest details that do not.
RULE_CASES: dict[str, tuple[PatientDetails, PatientDetails]] = {
    "sms_needs_a_mobile": (
        details(notify_by="sms", phone=LANDLINE),
        details(notify_by="sms", phone=MOBILE),
    ),
    "email_needs_an_address": (
        details(notify_by="both", phone=MOBILE),
        details(notify_by="both", phone=MOBILE, email=EMAIL),
    ),
    "consent_needs_a_way": (
        details(notify_by="none", consent=True),
        details(notify_by="email", email=EMAIL, consent=True),
    ),
}


def test_every_rule_has_its_cases() -> None:
    assert [rule.key for rule in NOTIFY_RULES] == list(RULE_CASES)


@pytest.mark.parametrize("rule", NOTIFY_RULES, ids=lambda r: r.key)
def test_each_rule_refuses_what_breaks_it_and_only_that(rule: object, clinic: Clinic) -> None:
    broken, fine = RULE_CASES[rule.key]  # type: ignore[attr-defined]
    assert [r.key for r in notify_problems(broken)] == [rule.key]  # type: ignore[attr-defined]
    with pytest.raises(FieldError) as caught:
        broken.validated(date(2026, 3, 2))
    assert caught.value.field == rule.field and rule.message in str(caught.value)  # type: ignore[attr-defined]
    assert notify_problems(fine.validated(date(2026, 3, 2))) == []


@pytest.mark.parametrize(
    ("number", "mobile"),
    [
        ("07700 900123", True),
        ("+44 7700 900123", True),
        ("0044 (0)7911 123456", True),
        ("07624 123456", True),  # Isle of Man mobiles
        ("07012 345678", False),  # personal numbers forward anywhere
        ("07623 123456", False),  # pagers
        ("0113 496 0111", False),  # a landline
        ("07700 90012", False),  # a digit short
        ("not a number", False),
    ],
)
def test_uk_mobile_numbers(number: str, mobile: bool) -> None:
    assert is_uk_mobile(number) is mobile
    if mobile:
        assert mobile_e164(number).startswith("+447") and len(mobile_e164(number)) == 13
    assert MOBILE_PREFIXES[0] == ("07624", True)  # the exception comes before its range
    # The notify function (deployed on its own) keeps a copy of the rule: the two agree.
    notify = load_function("notify")
    assert notify.MOBILE_PREFIXES == MOBILE_PREFIXES
    assert notify.uk_mobile_e164(number) == (mobile_e164(number) if mobile else None)


def test_ways_of_being_told() -> None:
    assert [parse_notify_by(w) for w in ("SMS", "text", "E-mail", "both", "", "Neither")] == [
        NotifyBy.SMS, NotifyBy.SMS, NotifyBy.EMAIL, NotifyBy.BOTH, NotifyBy.NONE, NotifyBy.NONE,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="not one of email, sms, both, none"):
        parse_notify_by("pigeon")
    assert consent_sentence(NotifyBy.BOTH) == "The patient agrees to be told by email and text message"
    assert NotifyBy.BOTH.sms and NotifyBy.BOTH.email and not NotifyBy.SMS.email and not NotifyBy.NONE.sms


def test_consent_is_recorded_with_who_and_when_and_withdrawn(clinic: Clinic) -> None:
    ctx = clinic.prescriber
    patient = create_patient(ctx, details(notify_by="both", phone=MOBILE, email=EMAIL, consent=True))
    assert (patient.notify_by, patient.consent_at, patient.consent_by) == ("both", clinic.clock(), ctx.actor.user_id)
    assert PatientDetails.of(patient).consent is True

    clinic.clock.advance(days=1)
    withdrawn = update_patient(ctx, patient.id, details(notify_by="both", phone=MOBILE, email=EMAIL, consent=False))
    assert withdrawn.consent_at is None and withdrawn.consent_by is None and withdrawn.notify_by == "both"

    clinic.clock.advance(days=1)
    again = update_patient(clinic.pharmacist, patient.id, details(notify_by="sms", phone=MOBILE, consent=True))
    assert (again.consent_at, again.consent_by) == (clinic.clock(), clinic.pharmacist.actor.user_id)
    clinic.clock.advance(days=1)
    # A new way while consent stands is consent recorded anew; nothing changed, nothing written.
    moved = update_patient(ctx, patient.id, details(notify_by="both", phone=MOBILE, email=EMAIL, consent=True))
    assert (moved.consent_at, moved.consent_by) == (clinic.clock(), ctx.actor.user_id)
    update_patient(ctx, patient.id, details(notify_by="both", phone=MOBILE, email=EMAIL, consent=True))

    with clinic.database.reader() as session:
        trail = audit_trail(session, "patient", patient.id)
        consents = [e for e in trail if e.action == "patient.consent"]
        assert [json.loads(e.after)["consent"] for e in consents] == [True, False, True, True]
        assert json.loads(consents[1].before)["consent_by"] == ctx.actor.user_id
        assert json.loads(consents[2].after)["notify_by"] == "sms"
        assert all(MOBILE.replace(" ", "") not in (e.after or "") for e in consents)  # no contact details in them
        assert verify_chain(session).intact
        queued = session.execute(select(OutboxEntry).where(OutboxEntry.row_id == patient.id)).scalars().all()
        assert len(queued) == 4  # the create and three changes, each for the server (the last was no change)
        assert json.loads(queued[-1].payload)["consent_by"] == ctx.actor.user_id
        assert get_patient(session, patient.id).consent_at == clinic.clock()


def test_a_preference_without_consent_is_kept_and_nothing_is_consented(clinic: Clinic) -> None:
    patient = create_patient(clinic.prescriber, details(notify_by="sms", phone="+447700900123"))
    assert (patient.notify_by, patient.phone, patient.consent_at) == ("sms", "07700900123", None)
    older = create_patient(clinic.prescriber, details(given_name="Owen"))
    assert older.notify_by == "none" and PatientDetails.of(older).notify_by == "none"


def test_csv_import_takes_the_way_and_the_consent(clinic: Clinic, tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(
        "First name,Surname,DOB,Mobile,Email,Contact by,Consent\n"
        "Ann,Hale,01/02/1970,07700 900123,ann@example.org,both,yes\n"
        "Ben,Hale,01/02/1971,0113 496 0111,,sms,yes\n"
        "Cai,Hale,01/02/1972,,,,\n"
        "Dee,Hale,01/02/1973,,,none,perhaps\n",
        encoding="utf-8",
    )
    report = import_patients_csv(clinic.admin, path)
    outcomes = {row.line: (row.outcome.value, row.message) for row in report.rows}
    assert outcomes[2][0] == "imported" and outcomes[4][0] == "imported"
    assert outcomes[3] == ("rejected", "Tell them by: text messages need a UK mobile number (07…) in Phone.")
    assert outcomes[5] == ("rejected", "Consent: perhaps is not yes or no.")
    with clinic.database.reader() as session:
        ann = get_patient(session, report.rows[0].patient_id or "")
        assert (ann.notify_by, ann.consent_at, ann.consent_by) == ("both", clinic.clock(), clinic.admin.actor.user_id)
        assert [e.action for e in audit_trail(session, "patient", ann.id)] == ["patient.import", "patient.consent"]
