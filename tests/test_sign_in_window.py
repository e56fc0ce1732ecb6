"""The sign-in window (pytest-qt, offscreen): a real Qt widget, signing in against a real app database."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from core.context import ServiceContext
from core.demo import DEMO_PASSWORD, ensure_demo_installation
from core.dmd.catalogue import Catalogue
from core.storage.database import open_database
from core.users.roles import Role
from desktop.sign_in import SignInWindow
from tests.clinic import PASSWORD, Clinic


def window(qtbot: QtBot, clinic: Clinic, *, demo: bool = False) -> SignInWindow:
    widget = SignInWindow(clinic.database, "test-ws", demo=demo)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_right_password_signs_in_with_the_users_role(qtbot: QtBot, clinic: Clinic) -> None:
    widget = window(qtbot, clinic)
    qtbot.keyClicks(widget.username, "pharm")
    qtbot.keyClicks(widget.secret, PASSWORD)
    with qtbot.waitSignal(widget.signed_in, timeout=5000) as signal:
        widget.button.click()
    ctx = signal.args[0]
    assert isinstance(ctx, ServiceContext) and ctx.actor.role is Role.PHARMACIST
    assert widget.secret.text() == "" and widget.error.isHidden()


def test_wrong_password_says_so_and_keeps_the_window(qtbot: QtBot, clinic: Clinic) -> None:
    widget = window(qtbot, clinic)
    qtbot.keyClicks(widget.username, "drsmith")
    qtbot.keyClicks(widget.secret, "not it")
    received: list[object] = []
    widget.signed_in.connect(received.append)
    widget.button.click()
    qtbot.waitUntil(lambda: widget.error.isVisible() and widget.button.isEnabled(), timeout=5000)
    assert widget.error.text() == "Wrong user name, password or PIN."
    assert received == []


def test_empty_fields_are_caught_before_checking(qtbot: QtBot, clinic: Clinic) -> None:
    widget = window(qtbot, clinic)
    widget.button.click()
    assert widget.error.isVisible() and "Type your user name" in widget.error.text()


def test_demo_users_are_shown_only_on_a_demo_installation(qtbot: QtBot, clinic: Clinic, tmp_path: Path) -> None:
    assert window(qtbot, clinic).demo_hint is None
    database = open_database(tmp_path / "demo.sqlite")
    ensure_demo_installation(database)
    demo = SignInWindow(database, "test-ws", demo=True)
    qtbot.addWidget(demo)
    assert demo.demo_hint is not None
    qtbot.keyClicks(demo.username, "doctor")
    qtbot.keyClicks(demo.secret, DEMO_PASSWORD)
    with qtbot.waitSignal(demo.signed_in, timeout=5000) as signal:
        qtbot.keyClick(demo.secret, "\r")
    assert signal.args[0].actor.role is Role.PRESCRIBER
    database.close()


def test_signing_in_expires_what_is_out_of_date(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    from core.prescriptions.drafting import add_item, create_prescription
    from core.prescriptions.queries import get_prescription
    from core.prescriptions.signing import sign_prescription
    from desktop.app import expire_out_of_date
    from tests.clinic import PRESCRIBER_PIN
    from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule

    fund_clinic(clinic)
    rx = create_prescription(clinic.prescriber, add_patient(clinic).id)
    add_item(clinic.prescriber, demo_catalogue, rx.id, vmp_with_schedule(demo_catalogue, ("0008",)),
             dose="1 at night", directions="One at night", quantity=28, days_supply=28)  # fmt: skip
    sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    clinic.clock.advance(days=40)
    assert expire_out_of_date(clinic.admin) is None  # an admin does not see prescriptions
    operation = expire_out_of_date(clinic.pharmacist)
    assert operation is not None
    with qtbot.waitSignal(operation.finished, timeout=5000):
        pass
    with clinic.database.reader() as session:
        assert get_prescription(session, rx.id).status == "expired"
