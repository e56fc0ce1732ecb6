"""Registering and editing a patient in the form (pytest-qt, offscreen), against a real app database."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from core.patients.notifications import NotifyBy
from core.patients.search import search_patients
from core.storage.models import Patient
from desktop.patient_form import WAYS, PatientForm
from tests.clinic import Clinic


def fill(qtbot: QtBot, form: PatientForm, **values: str) -> None:
    for name, text in values.items():
        widget = form.inputs[name]
        widget.clear()
        qtbot.keyClicks(widget, text)


def count(clinic: Clinic) -> int:
    with clinic.database.reader() as session:
        return session.execute(select(func.count()).select_from(Patient)).scalar_one()


def test_an_invalid_nhs_number_is_shown_beside_its_field_then_a_valid_one_saves(qtbot: QtBot, clinic: Clinic) -> None:
    form = PatientForm(clinic.prescriber)
    qtbot.addWidget(form)
    fill(qtbot, form, given_name="Rhiannon", family_name="Price", date_of_birth="04/05/1977",
         nhs_number="943 476 5918", postcode="cf10 1aa")  # fmt: skip
    form.save_button.click()
    error = form.field_errors["nhs_number"]
    assert not error.isHidden() and "check digit" in error.text()
    assert count(clinic) == 0 and form.result() == 0
    fill(qtbot, form, nhs_number="943 476 5919")
    with qtbot.waitSignal(form.saved) as signal:
        form.save_button.click()
    patient = signal.args[0]
    assert (patient.nhs_number, patient.postcode) == ("9434765919", "CF10 1AA")
    assert [p.id for p in search_patients(clinic.prescriber, "price")] == [patient.id]


def test_a_bad_date_and_a_missing_name_are_shown_where_they_are(qtbot: QtBot, clinic: Clinic) -> None:
    form = PatientForm(clinic.prescriber)
    qtbot.addWidget(form)
    fill(qtbot, form, given_name="Ann", family_name="", date_of_birth="31/02/1990")
    form.save_button.click()
    assert "not a date in the calendar" in form.field_errors["date_of_birth"].text()
    fill(qtbot, form, date_of_birth="28/02/1990")
    form.save_button.click()
    assert form.field_errors["date_of_birth"].isHidden()
    assert not form.field_errors["family_name"].isHidden()
    assert count(clinic) == 0


def test_a_possible_duplicate_is_asked_about(qtbot: QtBot, clinic: Clinic) -> None:
    answers: list[bool] = [False, True]
    asked: list[str] = []

    def ask(_parent: object, text: str) -> bool:
        asked.append(text)
        return answers.pop(0)

    for expected in (1, 1, 2):  # first: saved; second: declined; third: confirmed
        form = PatientForm(clinic.prescriber, ask=ask)
        qtbot.addWidget(form)
        fill(qtbot, form, given_name="Owen", family_name="Hughes", date_of_birth="01/01/1960")
        form.save_button.click()
        assert count(clinic) == expected
    assert len(asked) == 2 and "Possible duplicate" in asked[0]


def test_editing_fills_the_form_and_saves_the_change(qtbot: QtBot, clinic: Clinic) -> None:
    form = PatientForm(clinic.prescriber)
    qtbot.addWidget(form)
    fill(qtbot, form, given_name="Mair", family_name="Lloyd", date_of_birth="12/12/1950")
    form.save_button.click()
    patient = form.patient
    assert patient is not None
    edit = PatientForm(clinic.prescriber, patient)
    qtbot.addWidget(edit)
    assert edit.inputs["date_of_birth"].text() == "12/12/1950"
    fill(qtbot, edit, phone="029 2000 0000")
    with qtbot.waitSignal(edit.saved) as signal:
        edit.save_button.click()
    assert signal.args[0].phone == "02920000000"


def test_the_way_to_tell_the_patient_and_their_consent(qtbot: QtBot, clinic: Clinic) -> None:
    form = PatientForm(clinic.prescriber)
    qtbot.addWidget(form)
    assert not form.consent.isEnabled() and form.consent.text() == "The patient agrees to be told by …"
    fill(qtbot, form, given_name="Ffion", family_name="Rees", date_of_birth="01/04/1990", phone="0113 496 0111")
    form.notify_by.setCurrentIndex(WAYS.index(NotifyBy.SMS))
    assert form.consent.isEnabled() and form.consent.text() == "The patient agrees to be told by text message."
    form.consent.setChecked(True)
    form.save_button.click()
    error = form.field_errors["notify_by"]
    assert not error.isHidden() and error.text() == "text messages need a UK mobile number (07…) in Phone."
    assert count(clinic) == 0
    fill(qtbot, form, phone="07700 900123")
    with qtbot.waitSignal(form.saved) as signal:
        form.save_button.click()
    patient = signal.args[0]
    assert (patient.notify_by, patient.consent_by, patient.consent_at) == (
        "sms", clinic.prescriber.actor.user_id, clinic.clock(),
    )  # fmt: skip

    edit = PatientForm(clinic.prescriber, patient)
    qtbot.addWidget(edit)
    assert edit.way() is NotifyBy.SMS and edit.consent.isChecked()
    edit.consent.setChecked(False)  # consent withdrawn: the way stays, nothing is sent
    with qtbot.waitSignal(edit.saved) as signal:
        edit.save_button.click()
    assert signal.args[0].consent_at is None and signal.args[0].notify_by == "sms"
    again = PatientForm(clinic.prescriber, signal.args[0])
    qtbot.addWidget(again)
    again.consent.setChecked(True)
    again.notify_by.setCurrentIndex(WAYS.index(NotifyBy.NONE))  # neither: nothing to agree to
    assert not again.consent.isChecked() and not again.consent.isEnabled()
