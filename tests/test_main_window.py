"""The window after sign-in (pytest-qt, offscreen): workspaces by role, the patients workspace, signing out."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.dmd.catalogue import Catalogue
from core.patients.records import PatientDetails, create_patient
from desktop.catalogue_window import CatalogueWindow
from desktop.main_window import MainWindow
from desktop.patients_panel import PatientsPanel
from tests.clinic import Clinic


def main_window(qtbot: QtBot, clinic: Clinic, catalogue: Catalogue, role: str) -> MainWindow:
    ctx = {"admin": clinic.admin, "prescriber": clinic.prescriber, "pharmacist": clinic.pharmacist,
           "technician": clinic.technician}[role]  # fmt: skip
    window = MainWindow(ctx, CatalogueWindow(catalogue.path))  # the window owns the catalogue view
    qtbot.addWidget(window)
    return window


def test_every_role_gets_its_workspaces(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    expected = {
        "admin": ["Patients", "Medicines", "Admin"],
        "prescriber": ["Prescribe", "Patients", "Medicines"],
        "pharmacist": ["Counter", "Patients", "Medicines"],
        "technician": ["Counter", "Patients", "Medicines"],
    }
    for role, titles in expected.items():
        assert main_window(qtbot, clinic, demo_catalogue, role).titles() == titles


def test_find_a_patient_and_see_the_record(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    from datetime import date

    create_patient(clinic.admin, PatientDetails("Nia", "Roberts", date(1991, 8, 14), "4010232137"))
    window = main_window(qtbot, clinic, demo_catalogue, "prescriber")
    panel = window.workspace("Patients")
    assert isinstance(panel, PatientsPanel)
    qtbot.keyClicks(panel.search_box, "401 023 2137")
    panel.search_now()
    assert panel.results.count() == 1 and "ROBERTS, Nia" in panel.results.item(0).text()
    panel.results.setCurrentRow(0)
    record = panel.detail.toPlainText()
    assert "Nia ROBERTS" in record and "None recorded." in record and "No prescriptions or dispensings yet." in record
    assert panel.edit_button.isEnabled()


def test_a_technician_can_look_but_not_register(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    window = main_window(qtbot, clinic, demo_catalogue, "technician")
    panel = window.workspace("Patients")
    assert isinstance(panel, PatientsPanel)
    assert panel.register_button.isHidden() and panel.edit_button.isHidden()


def test_signing_out_keeps_the_catalogue_view(qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue) -> None:
    window = main_window(qtbot, clinic, demo_catalogue, "pharmacist")
    catalogue_view = window.catalogue
    with qtbot.waitSignal(window.signed_out):
        window.sign_out()
    assert catalogue_view.parent() is None  # not destroyed with the window: the next session reuses it
    qtbot.addWidget(catalogue_view)
    catalogue_view.search_box.setText("paracetamol")
    catalogue_view.wait_for_search()
    assert catalogue_view.results_model.rowCount() > 0


def test_the_status_bar_shows_connection_release_and_tokens(
    qtbot: QtBot, clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    from core.tokens.ledger import add_credit, create_account
    from desktop.operation import change_notifier
    from desktop.topics import TOKENS_CHANGED

    window = main_window(qtbot, clinic, demo_catalogue, "prescriber")
    bar = window.indicators
    assert bar.sync is None  # a window without the app's sync runner (tests/test_sync_ui.py has one)
    assert bar.release.text().startswith("Catalogue ") and demo_catalogue.release().name in bar.release.toolTip()
    assert bar.tokens.text() == "Tokens: no account"
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 120, "Opening balance")
    change_notifier().changed.emit(frozenset({TOKENS_CHANGED}))
    assert bar.tokens.text() == "Tokens: 120" and "Riverside Surgery" in bar.tokens.toolTip()
    assert main_window(qtbot, clinic, demo_catalogue, "pharmacist").indicators.tokens.isHidden()


def test_every_workspace_icon_is_drawn(qtbot: QtBot) -> None:
    from desktop.icons import ICONS, icon
    from desktop.main_window import WORKSPACES

    names = {workspace.icon for workspace in WORKSPACES} | {path.stem for path in ICONS.glob("*.svg")}
    for name in names:
        pixmap = icon(name).pixmap(48, 48)
        assert not pixmap.isNull(), name  # the SVG was found and Qt's SVG plugin drew it
        image = pixmap.toImage()
        assert any(image.pixelColor(x, y).alpha() > 0 for x in range(48) for y in range(48)), name
