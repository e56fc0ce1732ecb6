"""The demo installation of a fresh RxDesk: made once, on an empty database, and usable at once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from core.demo import DEMO_PASSWORD, DEMO_PIN, DEMO_USERS, ensure_demo_installation, is_demo_installation
from core.dmd.catalogue import Catalogue
from core.patients.search import search_patients
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.signing import sign_prescription
from core.storage.database import open_database
from core.storage.models import User
from core.users.service import sign_in
from tests.clinic import Clinic
from tests.prescribing_helpers import vmp_with_schedule


def test_demo_installation_is_made_once_and_every_user_can_sign_in(tmp_path: Path) -> None:
    db = open_database(tmp_path / "rxdesk.sqlite")
    assert not is_demo_installation(db)
    assert ensure_demo_installation(db)
    assert not ensure_demo_installation(db)  # never twice
    assert is_demo_installation(db)
    for user in DEMO_USERS:
        assert sign_in(db, user.username, DEMO_PASSWORD, "ws").actor.role is user.role
    db.close()


def test_a_real_installation_is_never_turned_into_a_demo(clinic: Clinic) -> None:
    with clinic.database.reader() as session:
        users = session.execute(select(func.count()).select_from(User)).scalar_one()
    assert not ensure_demo_installation(clinic.database)
    assert not is_demo_installation(clinic.database)
    with clinic.database.reader() as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() == users


def test_the_demo_doctor_can_prescribe_at_once(tmp_path: Path, demo_catalogue: Catalogue) -> None:
    db = open_database(tmp_path / "rxdesk.sqlite")
    ensure_demo_installation(db)
    doctor = sign_in(db, "doctor", DEMO_PASSWORD, "ws")
    [patient] = search_patients(doctor, "jones")
    rx = create_prescription(doctor, patient.id)
    add_item(doctor, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, None), dose="1 daily",
             directions="One daily", quantity=28)  # fmt: skip
    assert sign_prescription(doctor, demo_catalogue, rx.id, DEMO_PIN).token_cost == 10
    db.close()
