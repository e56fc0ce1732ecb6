"""Patients: registration, edits, duplicates, the one-box search, allergies and medication history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select

from core.audit.log import audit_trail, verify_chain
from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.errors import DuplicateRecord, NotFound, PermissionDenied, ValidationError
from core.patients.allergies import AllergyKind, Severity, list_allergies, record_allergy, remove_allergy
from core.patients.history import EntryKind, medication_history
from core.patients.records import (
    FieldError,
    PatientDetails,
    PossibleDuplicate,
    create_patient,
    name_key,
    update_patient,
)
from core.patients.search import parse_query, search_patients
from core.storage.models import (
    AuditEvent,
    Dispensing,
    DispensingLine,
    OutboxEntry,
    Patient,
    Prescription,
    PrescriptionItem,
)
from tests.clinic import Clinic, copy_clinic

JANE = PatientDetails("Jane", "Smith", date(1980, 3, 12), nhs_number="943 476 5919", postcode="ls1 4ap")
AMOXICILLIN_ING = 372687004
AMOXICILLIN_VTM = 27658006


def counts(clinic: Clinic) -> tuple[int, int, int]:
    with clinic.database.reader() as s:
        return (
            s.execute(select(func.count()).select_from(Patient)).scalar_one(),
            s.execute(select(func.count()).select_from(AuditEvent)).scalar_one(),
            s.execute(select(func.count()).select_from(OutboxEntry)).scalar_one(),
        )


def outbox_for(clinic: Clinic, row_id: str) -> list[OutboxEntry]:
    with clinic.database.reader() as s:
        return list(
            s.execute(select(OutboxEntry).where(OutboxEntry.row_id == row_id).order_by(OutboxEntry.seq)).scalars()
        )


def trail(clinic: Clinic, entity_type: str, entity_id: str) -> list[AuditEvent]:
    with clinic.database.reader() as s:
        return audit_trail(s, entity_type, entity_id)


# -- registration ----------------------------------------------------------------------------------------


def test_create_normalises_and_writes_row_audit_and_outbox_together(clinic: Clinic) -> None:
    details = PatientDetails(
        " Jane ",
        "O'Brien",
        date(1980, 3, 12),
        nhs_number="943 476 5919",
        title=" Mrs ",
        sex="F",
        address=" 1 High Street \n\n Leeds ",
        postcode="ls1 4ap",
        phone="+44 113 496 0000",
        email="Jane@Example.ORG",
    )
    patient = create_patient(clinic.prescriber, details)
    assert (patient.given_name, patient.family_name, patient.title, patient.sex) == ("Jane", "O'Brien", "Mrs", "female")
    assert (patient.nhs_number, patient.postcode, patient.phone) == ("9434765919", "LS1 4AP", "01134960000")
    assert (patient.email, patient.address) == ("Jane@example.org", "1 High Street\nLeeds")
    assert (patient.family_key, patient.given_key, patient.postcode_key) == ("obrien", "jane", "LS14AP")
    assert patient.organisation_id == clinic.clinic.id
    assert patient.created_at == clinic.clock.current
    [created] = trail(clinic, "patient", patient.id)
    assert created.action == "patient.create" and created.user_id == clinic.prescriber.actor.user_id
    assert json.loads(created.after or "")["nhs_number"] == "9434765919"
    [entry] = outbox_for(clinic, patient.id)
    assert (entry.table, entry.operation, entry.state) == ("patient", "create", "pending")
    assert json.loads(entry.payload)["family_key"] == "obrien"
    with clinic.database.reader() as s:
        assert verify_chain(s).intact


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"given_name": "  "}, "given_name", "Given name: this is required"),
        ({"family_name": ""}, "family_name", "Family name: this is required"),
        ({"family_name": "Sm1th"}, "family_name", "contains digits"),
        ({"family_name": "'-"}, "family_name", "has no letters"),
        ({"date_of_birth": date(2026, 3, 3)}, "date_of_birth", "Date of birth: 03/03/2026 is in the future"),
        ({"date_of_birth": date(1899, 12, 31)}, "date_of_birth", "before 1900"),
        ({"nhs_number": "9434765918"}, "nhs_number", "NHS number: 9434765918 is not a valid NHS number"),
        ({"postcode": "LS1"}, "postcode", "Postcode: LS1 is not a UK postcode"),
        ({"phone": "12345"}, "phone", "Phone: 12345 is not a UK phone number"),
        ({"email": "jane@"}, "email", "Email: jane@ is not an email address"),
        ({"sex": "x"}, "sex", "Sex: x is not one of"),
        ({"title": "T" * 21}, "title", "Title: at most 20"),
    ],
)
def test_invalid_details_name_the_field(change: dict[str, Any], field: str, message: str) -> None:
    details = PatientDetails(**{**JANE.as_dict(), **change})
    with pytest.raises(FieldError, match=message) as caught:
        details.validated(date(2026, 3, 2))
    assert caught.value.field == field
    assert isinstance(caught.value, ValidationError)


def test_empty_optional_fields_become_none_and_today_is_a_valid_birth_date() -> None:
    details = PatientDetails("Baby", "Smith", date(2026, 3, 2), nhs_number=" ", title="", phone="  ", email=None)
    valid = details.validated(date(2026, 3, 2))
    assert (valid.nhs_number, valid.title, valid.phone, valid.email, valid.postcode) == (None, None, None, None, None)
    assert PatientDetails("A", "B", date(1900, 1, 1)).validated(date(2026, 1, 1)).date_of_birth == date(1900, 1, 1)


def test_name_keys_ignore_case_accents_and_punctuation() -> None:
    assert name_key("O'Brien") == name_key("o'brien") == name_key("OBRIEN") == "obrien"
    assert name_key("Zoë") == name_key("ZOE") == "zoe"
    assert name_key("Smith-Jones") == "smithjones"
    assert name_key("Ólafsdóttir") == "olafsdottir"
    assert name_key("Strauß") == "strauss"


def test_a_failed_create_leaves_no_row_no_audit_event_no_outbox_row(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(clinic)
    with pytest.raises(FieldError):
        create_patient(clinic.prescriber, PatientDetails("Jane", "Smith", date(1980, 1, 1), postcode="nope"))
    assert counts(clinic) == before

    def broken_enqueue(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")  # after the row and its audit event are flushed

    monkeypatch.setattr("core.patients.records.enqueue", broken_enqueue)
    with pytest.raises(RuntimeError):
        create_patient(clinic.prescriber, JANE)
    assert counts(clinic) == before
    with clinic.database.reader() as s:
        assert verify_chain(s).intact


def test_same_nhs_number_is_refused(clinic: Clinic) -> None:
    create_patient(clinic.prescriber, JANE)
    other = PatientDetails("Janet", "Jones", date(1970, 1, 1), nhs_number="9434765919")
    before = counts(clinic)
    with pytest.raises(DuplicateRecord, match=r"NHS number 943 476 5919 is already on file: Jane Smith"):
        create_patient(clinic.pharmacist, other)
    with pytest.raises(DuplicateRecord):  # confirming a possible duplicate does not override an NHS number clash
        create_patient(clinic.pharmacist, other, confirm_possible_duplicate=True)
    assert counts(clinic) == before


def test_same_name_and_birth_date_needs_confirmation(clinic: Clinic) -> None:
    first = create_patient(clinic.prescriber, PatientDetails("Zoë", "O'Brien", date(1990, 5, 1), postcode="LS1 4AP"))
    again = PatientDetails("ZOE", "obrien", date(1990, 5, 1))
    before = counts(clinic)
    with pytest.raises(PossibleDuplicate, match=r"Possible duplicate.*Zoë O'Brien, born 01/05/1990, LS1 4AP") as caught:
        create_patient(clinic.prescriber, again)
    assert [c.patient_id for c in caught.value.existing] == [first.id]
    assert isinstance(caught.value, ValidationError)
    assert counts(clinic) == before
    second = create_patient(clinic.prescriber, again, confirm_possible_duplicate=True)
    [created] = trail(clinic, "patient", second.id)
    assert json.loads(created.after or "")["confirmed_not_duplicate_of"] == [first.id]
    # a different birth date is no duplicate at all
    create_patient(clinic.prescriber, PatientDetails("Zoe", "OBrien", date(1990, 5, 2)))


def test_update_audits_changed_fields_only_and_queues_an_update(clinic: Clinic) -> None:
    patient = create_patient(clinic.prescriber, JANE)
    clinic.clock.advance(days=1)
    edited = PatientDetails(**{**PatientDetails.of(patient).as_dict(), "postcode": "ls2 7dj", "phone": "07700900123"})
    updated = update_patient(clinic.pharmacist, patient.id, edited)
    assert (updated.postcode, updated.postcode_key, updated.phone) == ("LS2 7DJ", "LS27DJ", "07700900123")
    assert updated.updated_at == clinic.clock.current and updated.created_at < updated.updated_at
    _, update_event = trail(clinic, "patient", patient.id)
    assert update_event.action == "patient.update" and update_event.user_id == clinic.pharmacist.actor.user_id
    assert json.loads(update_event.before or "") == {"postcode": "LS1 4AP", "phone": None}
    assert json.loads(update_event.after or "") == {"postcode": "LS2 7DJ", "phone": "07700900123"}
    assert [e.operation for e in outbox_for(clinic, patient.id)] == ["create", "update"]
    # the same details again: nothing changes, nothing is written
    before = counts(clinic)
    update_patient(clinic.pharmacist, patient.id, edited)
    assert counts(clinic) == before
    # a new name updates the search keys
    renamed = update_patient(
        clinic.prescriber, patient.id, PatientDetails(**{**edited.as_dict(), "family_name": "Ní Bhriain"})
    )
    assert renamed.family_key == "nibhriain"
    assert [p.id for p in search_patients(clinic.prescriber, "ni bhriain")] == [patient.id]


def test_update_refuses_another_patients_nhs_number_and_unknown_ids(clinic: Clinic) -> None:
    create_patient(clinic.prescriber, JANE)
    other = create_patient(clinic.prescriber, PatientDetails("Tom", "Jones", date(1975, 6, 1)))
    with pytest.raises(DuplicateRecord):
        update_patient(clinic.prescriber, other.id, PatientDetails("Tom", "Jones", date(1975, 6, 1), "9434765919"))
    with pytest.raises(NotFound):
        update_patient(clinic.prescriber, "0" * 32, JANE)


def test_renaming_into_another_patients_identity_needs_confirming(clinic: Clinic) -> None:
    create_patient(clinic.prescriber, JANE)
    other = create_patient(clinic.prescriber, PatientDetails("Janet", "Smith", date(1980, 3, 12)))
    same_as_jane = PatientDetails("Jane", "Smith", date(1980, 3, 12))
    with pytest.raises(PossibleDuplicate):
        update_patient(clinic.prescriber, other.id, same_as_jane)
    assert (
        update_patient(clinic.prescriber, other.id, same_as_jane, confirm_possible_duplicate=True).given_name == "Jane"
    )


def test_roles(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    with pytest.raises(PermissionDenied, match="technician may not register and edit patients"):
        create_patient(clinic.technician, JANE)
    patient = create_patient(clinic.admin, JANE)  # the back office registers patients
    with pytest.raises(PermissionDenied):
        update_patient(clinic.technician, patient.id, JANE)
    assert [p.id for p in search_patients(clinic.technician, "smith")] == [patient.id]  # a technician may look
    with pytest.raises(PermissionDenied, match="admin may not record allergies"):
        record_allergy(clinic.admin, patient.id, demo_catalogue, AMOXICILLIN_ING, "allergy", "rash", "mild")
    with pytest.raises(PermissionDenied):
        medication_history(clinic.admin, patient.id)


# -- search ----------------------------------------------------------------------------------------------

PEOPLE = [
    ("Jane", "Smith", date(1980, 3, 12), "9434765919", "LS1 4AP"),
    ("John", "Smith", date(1955, 7, 30), "4010232137", "LS1 5DL"),
    ("Janet", "Smithers", date(1980, 3, 12), None, "LS14 6AB"),
    ("Adam", "Smithson", date(2001, 1, 2), None, "M1 1AE"),
    ("Smith", "Jones", date(1990, 9, 9), None, None),  # given name Smith
    ("Siobhán", "O'Brien", date(1972, 11, 5), None, "LS2 7DJ"),
    ("Zoë", "Van der Berg", date(1966, 2, 28), None, "SW1A 1AA"),
    ("Mary Ann", "Smith", date(1949, 12, 1), None, "LS1 4AP"),
]


def register_people(clinic: Clinic) -> dict[str, Patient]:
    out = {}
    for given, family, born, nhs, postcode in PEOPLE:
        p = create_patient(clinic.prescriber, PatientDetails(given, family, born, nhs_number=nhs, postcode=postcode))
        out[f"{given} {family}"] = p
    return out


@pytest.fixture
def people(clinic: Clinic) -> dict[str, Patient]:
    return register_people(clinic)


@pytest.fixture(scope="module")
def directory(clinic_template: Clinic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    """A clinic with PEOPLE registered, shared by the tests that only search."""
    installation = copy_clinic(clinic_template, tmp_path_factory.mktemp("directory") / "rxdesk.sqlite")
    register_people(installation)
    yield installation
    installation.database.close()


def names(patients: list[Patient]) -> list[str]:
    return [f"{p.given_name} {p.family_name}" for p in patients]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smith", ["Jane Smith", "John Smith", "Mary Ann Smith", "Janet Smithers", "Adam Smithson", "Smith Jones"]),
        ("SMITHS", ["Adam Smithson"]),
        ("smi", ["Jane Smith", "John Smith", "Mary Ann Smith", "Janet Smithers", "Adam Smithson", "Smith Jones"]),
        ("jane smi", ["Jane Smith", "Janet Smithers"]),
        ("smith jane", ["Jane Smith", "Janet Smithers"]),
        ("smith, jane", ["Jane Smith", "Janet Smithers"]),
        ("Smith,J", ["Jane Smith", "John Smith", "Janet Smithers"]),
        ("mary ann smith", ["Mary Ann Smith"]),
        ("o'brien", ["Siobhán O'Brien"]),
        ("obrien siobhan", ["Siobhán O'Brien"]),
        ("siobhan", ["Siobhán O'Brien"]),
        ("van der berg", ["Zoë Van der Berg"]),
        ("zoe van", ["Zoë Van der Berg"]),
        ("943 476 5919", ["Jane Smith"]),
        ("9434765919", ["Jane Smith"]),
        ("12/03/1980", ["Jane Smith", "Janet Smithers"]),
        ("1980-03-12", ["Jane Smith", "Janet Smithers"]),
        ("12.3.1980", ["Jane Smith", "Janet Smithers"]),
        ("smith 12/03/1980", ["Jane Smith", "Janet Smithers"]),
        ("jane smith 1980-03-12", ["Jane Smith", "Janet Smithers"]),
        ("jane smith 1980", ["Jane Smith", "Janet Smithers"]),
        ("john smith 1980", []),
        ("smith 1955", ["John Smith"]),
        ("LS1", ["Jane Smith", "John Smith", "Mary Ann Smith"]),  # not LS14
        ("ls14", ["Janet Smithers"]),
        ("LS1 4AP", ["Jane Smith", "Mary Ann Smith"]),
        ("ls14ap", ["Jane Smith", "Mary Ann Smith"]),
        ("LS1 4", ["Jane Smith", "Mary Ann Smith"]),
        ("smith ls1 5", ["John Smith"]),
        ("sw1a 1aa", ["Zoë Van der Berg"]),
        ("", []),
        ("   ", []),
        ("nobody", []),
        ("31/02/1980", []),  # no such date
        ("smith 12345", []),  # digits that mean nothing
        ("1234567890", []),  # an NHS number not on file (and not even valid)
    ],
)
def test_search_forms(directory: Clinic, text: str, expected: list[str]) -> None:
    assert names(search_patients(directory.technician, text)) == expected


def test_search_leaves_out_removed_patients_and_honours_the_limit(clinic: Clinic, people: dict[str, Patient]) -> None:
    with clinic.database.transaction() as s:
        s.get_one(Patient, people["John Smith"].id).deleted_at = clinic.clock.current
    assert "John Smith" not in names(search_patients(clinic.technician, "smith"))
    assert search_patients(clinic.technician, "4010232137") == []
    assert names(search_patients(clinic.technician, "smith", limit=2)) == ["Jane Smith", "Mary Ann Smith"]


def test_exact_family_name_first_even_across_readings(clinic: Clinic) -> None:
    for given, family in [("Jones", "Anne"), ("Anne", "Jones"), ("Annette", "Jonesy"), ("Jo", "Annabel")]:
        create_patient(clinic.prescriber, PatientDetails(given, family, date(1970, 1, 1)))
    # "anne jones": given Anne + family Jones (exact), or family Anne (exact) + given Jones, before prefix matches
    assert names(search_patients(clinic.prescriber, "anne jones")) == ["Jones Anne", "Anne Jones", "Annette Jonesy"]
    # no exact family name: by family name, given name, date of birth
    assert names(search_patients(clinic.prescriber, "ann jo")) == [
        "Jo Annabel",
        "Jones Anne",
        "Anne Jones",
        "Annette Jonesy",
    ]


def test_parse_query() -> None:
    q = parse_query("Smith, Jane 12/03/1980 LS1 4")
    assert [(t.family, t.given) for t in q.names] == [("smith", "jane")]
    assert (q.dob_from, q.postcode_prefix, q.postcode_length) == (date(1980, 3, 12), "LS14", 6)
    assert parse_query("943-476-5919").nhs_number == "9434765919"
    two = parse_query("jane smi")
    assert [(t.family, t.given) for t in two.names] == [("smi", "jane"), ("jane", "smi"), ("janesmi", None)]
    assert parse_query("12/13/1980").impossible


def test_search_queries_use_indexes(directory: Clinic) -> None:
    clinic = directory
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM patient" in statement:
            statements.append((statement, parameters))

    engine = clinic.database.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for text in [
            "s",
            "smith",
            "jane smi",
            "smith, jane",
            "9434765919",
            "12/03/1980",
            "LS1",
            "LS1 4AP",
            "smith 1980",
        ]:
            search_patients(clinic.technician, text)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) >= 9
    with engine.connect() as conn:
        for statement, parameters in statements:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            table_steps = [step for step in plan if "patient" in step]
            assert table_steps, plan
            assert all(step.startswith("SEARCH patient USING") for step in table_steps), (statement, plan)
            assert "LIKE" not in statement.upper()


# -- allergies -------------------------------------------------------------------------------------------


def test_record_list_and_remove_allergies(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    patient = create_patient(clinic.prescriber, JANE)
    allergy = record_allergy(
        clinic.prescriber, patient.id, demo_catalogue, str(AMOXICILLIN_ING), AllergyKind.ALLERGY, " hives ", "severe"
    )
    assert (allergy.substance_kind, allergy.substance_id, allergy.substance_name) == (
        "ingredient",
        str(AMOXICILLIN_ING),
        "Amoxicillin",
    )
    assert (allergy.kind, allergy.severity, allergy.reaction) == ("allergy", "severe", "hives")
    assert allergy.recorded_by == clinic.prescriber.actor.user_id
    vtm = record_allergy(
        clinic.pharmacist, patient.id, demo_catalogue, AMOXICILLIN_VTM, "Intolerance", "nausea", Severity.MILD
    )
    assert (vtm.substance_kind, vtm.substance_name, vtm.kind) == ("vtm", "Amoxicillin", "intolerance")
    assert [a.id for a in list_allergies(clinic.technician, patient.id)] == [allergy.id, vtm.id]  # severe first
    with pytest.raises(DuplicateRecord, match="already recorded"):
        record_allergy(clinic.prescriber, patient.id, demo_catalogue, AMOXICILLIN_ING, "allergy", "rash", "mild")
    [event_] = trail(clinic, "allergy", allergy.id)
    assert event_.action == "allergy.record"
    assert [e.operation for e in outbox_for(clinic, allergy.id)] == ["create"]

    clinic.clock.advance(hours=1)
    with pytest.raises(ValidationError, match="Reason"):
        remove_allergy(clinic.prescriber, allergy.id, "  ")
    removed = remove_allergy(clinic.prescriber, allergy.id, "entered for the wrong patient")
    assert removed.deleted_at == clinic.clock.current
    with clinic.database.reader() as s:
        assert [a.id for a in list_allergies(s, patient.id)] == [vtm.id]
        assert s.get_one(type(allergy), allergy.id).deleted_at is not None  # a tombstone, not a deletion
    record_event = trail(clinic, "allergy", allergy.id)[-1]
    assert record_event.action == "allergy.remove"
    assert json.loads(record_event.after or "")["reason"] == "entered for the wrong patient"
    assert [e.operation for e in outbox_for(clinic, allergy.id)] == ["create", "update"]
    with pytest.raises(NotFound):
        remove_allergy(clinic.prescriber, allergy.id, "again")
    # recorded again after removal: allowed
    record_allergy(clinic.prescriber, patient.id, demo_catalogue, AMOXICILLIN_ING, "allergy", "rash", "moderate")


@pytest.mark.parametrize(
    ("substance", "kind", "severity", "message"),
    [
        ("999999999999", "allergy", "mild", "No product, pack or ingredient has the dm\\+d id 999999999999"),
        ("penicillin", "allergy", "mild", "not a dm\\+d identifier"),
        ("VMP", "allergy", "mild", "is a VMP, not an ingredient or a VTM"),
        (str(AMOXICILLIN_ING), "sensitivity", "mild", "not a kind of reaction: use one of allergy, intolerance"),
        (str(AMOXICILLIN_ING), "allergy", "fatal", "not a severity: use one of mild, moderate, severe"),
    ],
)
def test_allergy_input_is_checked(
    clinic: Clinic, demo_catalogue: Catalogue, substance: str, kind: str, severity: str, message: str
) -> None:
    patient = create_patient(clinic.prescriber, JANE)
    if substance == "VMP":
        substance = str(demo_catalogue.conn.execute("SELECT vpid FROM vmp LIMIT 1").fetchone()[0])
    before = counts(clinic)
    with pytest.raises(ValidationError, match=message):
        record_allergy(clinic.prescriber, patient.id, demo_catalogue, substance, kind, "rash", severity)
    assert counts(clinic) == before


def test_allergy_for_an_unknown_patient(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    with pytest.raises(NotFound):
        record_allergy(clinic.prescriber, "0" * 32, demo_catalogue, AMOXICILLIN_ING, "allergy", "rash", "mild")


# -- medication history ----------------------------------------------------------------------------------


def _prescription(ctx: ServiceContext, clinic: Clinic, patient_id: str, at: datetime, products: list[str]) -> str:
    with clinic.database.transaction() as s:
        rx = Prescription(
            organisation_id=clinic.clinic.id,
            patient_id=patient_id,
            prescriber_id=ctx.actor.user_id,
            status="signed",
            created_at=at - timedelta(minutes=5),
            signed_at=at,
            updated_at=at,
        )
        for n, name in enumerate(products):
            rx.items.append(
                PrescriptionItem(
                    position=n,
                    vmp_id="1",
                    product_name=name,
                    unit="tablet",
                    ingredient_ids="",
                    dose="one",
                    directions="one daily",
                    quantity=Decimal("28"),
                    status="pending",
                )
            )
        s.add(rx)
        s.flush()
        return rx.id


def test_medication_history_lists_prescriptions_and_dispensings_newest_first(clinic: Clinic) -> None:
    jane = create_patient(clinic.prescriber, JANE)
    other = create_patient(clinic.prescriber, PatientDetails("Tom", "Jones", date(1975, 6, 1)))
    day = datetime(2026, 1, 5, 10, tzinfo=UTC)
    first = _prescription(clinic.prescriber, clinic, jane.id, day, ["Amoxicillin 500mg capsules"])
    second = _prescription(
        clinic.prescriber, clinic, jane.id, day + timedelta(days=7), ["Paracetamol 500mg tablets", "Ibuprofen 200mg"]
    )
    _prescription(clinic.prescriber, clinic, other.id, day + timedelta(days=8), ["Not Jane's"])
    with clinic.database.transaction() as s:
        item = s.execute(select(PrescriptionItem).where(PrescriptionItem.prescription_id == first)).scalar_one()
        item.status = "dispensed"
        item.quantity_supplied = Decimal("21")
        dispensing = Dispensing(
            prescription_id=first,
            organisation_id=clinic.pharmacy.id,
            pharmacist_id=clinic.pharmacist.actor.user_id,
            workstation="counter",
            dispensed_at=day + timedelta(days=1),
        )
        s.add(dispensing)
        s.flush()
        s.add(
            DispensingLine(
                dispensing_id=dispensing.id, item_id=item.id, product_name="Amoxil 500mg", quantity=Decimal("21")
            )
        )
    history = medication_history(clinic.pharmacist, jane.id)
    assert [(e.kind, e.prescription_id) for e in history] == [
        (EntryKind.PRESCRIPTION, second),
        (EntryKind.DISPENSING, first),
        (EntryKind.PRESCRIPTION, first),
    ]
    newest, supplied, oldest = history
    assert [(line.product_name, line.quantity, line.status) for line in newest.lines] == [
        ("Paracetamol 500mg tablets", Decimal("28"), "pending"),
        ("Ibuprofen 200mg", Decimal("28"), "pending"),
    ]
    assert newest.by == "Dr Jane Smith" and newest.status == "signed"
    assert [(line.product_name, line.quantity) for line in supplied.lines] == [("Amoxil 500mg", Decimal("21"))]
    assert supplied.by == "Priya Patel" and supplied.at == day + timedelta(days=1)
    assert oldest.lines[0].status == "dispensed"
    assert medication_history(clinic.pharmacist, other.id)[0].lines[0].product_name == "Not Jane's"
    assert (
        medication_history(clinic.technician, create_patient(clinic.admin, PatientDetails("A", "B", day.date())).id)
        == []
    )
    with pytest.raises(NotFound):
        medication_history(clinic.pharmacist, "0" * 32)
