"""The Admin workspace (pytest-qt, offscreen): users, organisation, tokens with a printed statement, the
catalogue replaced with progress (and cancelled, leaving the old one), the audit log filtered and verified."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.audit.viewer import recent_events
from core.catalogue_install import install_release
from core.dmd.catalogue import Catalogue
from core.paths import replica_path
from core.storage.models import Organisation
from core.tokens.ledger import add_credit, create_account
from core.users.service import sign_in
from desktop.admin_catalogue import CataloguePanel
from desktop.admin_workspace import AdminWorkspace
from desktop.catalogue_window import CatalogueWindow
from desktop.form_dialog import FormDialog
from desktop.main_window import MainWindow
from sync.secrets import get_trud_key, set_trud_key
from sync.trud import NetworkPolicy
from tests.clinic import PASSWORD, WORKSTATION, Clinic
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.trud_server import FakeTrud
from tests.test_audit import tamper
from tests.test_counter_workspace import save_preview

TRUD_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"


@pytest.fixture
def catalogue_window(qtbot: QtBot, demo_catalogue: Catalogue) -> CatalogueWindow:
    window = CatalogueWindow(demo_catalogue.path)
    qtbot.addWidget(window)
    return window


@pytest.fixture
def admin(qtbot: QtBot, clinic: Clinic, catalogue_window: CatalogueWindow) -> AdminWorkspace:
    workspace = AdminWorkspace(clinic.admin, catalogue_window)
    qtbot.addWidget(workspace)
    workspace.show()
    return workspace


def press(dialog: FormDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_the_admin_sees_every_admin_tab(qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace) -> None:
    assert admin.titles() == ["Users", "Organisation", "Tokens", "Catalogue", "Audit log", "Sync"]
    admin.setCurrentWidget(admin.sync)
    assert "not connected" in admin.sync.server.text() and not admin.sync.sync_button.isEnabled()
    assert admin.sync.inbox_title.text().startswith("Sync inbox: empty")


def test_only_admins_get_the_admin_workspace(qtbot: QtBot, clinic: Clinic, catalogue_window: CatalogueWindow) -> None:
    for ctx in (clinic.admin, clinic.pharmacist, clinic.prescriber):
        window = MainWindow(ctx, catalogue_window)
        qtbot.addWidget(window)
        assert ("Admin" in window.titles()) == (ctx is clinic.admin)
        window.sign_out()


# ------------------------------------------------------------------------------------------------ users


def test_add_a_prescriber_after_a_wrong_registration_number(
    qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace
) -> None:
    users = admin.users
    dialog = users.add_user()
    assert dialog is not None
    qtbot.keyClicks(dialog.username, "nurse.jo")  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.full_name, "Jo Nurse")  # type: ignore[attr-defined]
    dialog.role.setCurrentIndex(dialog.role.findText("Prescriber"))  # type: ignore[attr-defined]
    dialog.prescriber_type.setCurrentIndex(1)  # type: ignore[attr-defined]  # nurse (NMC)
    qtbot.keyClicks(dialog.registration, "12345")  # type: ignore[attr-defined]
    for field in ("password", "password_again"):
        qtbot.keyClicks(getattr(dialog, field), PASSWORD)
    for field in ("pin", "pin_again"):
        qtbot.keyClicks(getattr(dialog, field), "9753")
    press(dialog)
    assert dialog.isVisible() and "not a valid NMC registration number" in dialog.error.text()
    assert "nurse.jo" not in [user.username for user in users.users]

    dialog.registration.setText("12A3456E")  # type: ignore[attr-defined]
    press(dialog)
    assert not dialog.isVisible()
    assert users.selected_user() is not None and users.selected_user().username == "nurse.jo"  # type: ignore[union-attr]
    assert "can sign in now" in users.message.text()
    assert sign_in(clinic.database, "nurse.jo", "9753", WORKSTATION, clinic.clock).actor.full_name == "Jo Nurse"


def test_mismatched_passwords_are_refused_before_anything_is_written(
    qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace
) -> None:
    dialog = admin.users.add_user()
    assert dialog is not None
    qtbot.keyClicks(dialog.username, "jo")  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.full_name, "Jo")  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.password, PASSWORD)  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.password_again, PASSWORD + "x")  # type: ignore[attr-defined]
    press(dialog)
    assert dialog.isVisible() and "not the same" in dialog.error.text()
    assert len(admin.users.users) == 4


def test_deactivate_then_reactivate_with_reasons(qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace) -> None:
    users = admin.users
    users.select_user("tech")
    assert users.activation_button.text() == "Deactivate…"
    dialog = users.change_activation()
    assert dialog is not None
    press(dialog)  # no reason
    assert dialog.isVisible() and "reason" in dialog.error.text()
    qtbot.keyClicks(dialog.reason, "Left the pharmacy")  # type: ignore[attr-defined]
    press(dialog)
    assert not dialog.isVisible()
    users.select_user("tech")
    tech = users.selected_user()
    assert tech is not None and not tech.active
    row = [user.username for user in users.users].index("tech")
    assert users.table.item(row, 6).text() == "Deactivated"
    assert users.activation_button.text() == "Reactivate…" and not users.reset_button.isEnabled()

    dialog = users.change_activation()
    assert dialog is not None
    qtbot.keyClicks(dialog.reason, "Came back")  # type: ignore[attr-defined]
    press(dialog)
    assert sign_in(clinic.database, "tech", PASSWORD, WORKSTATION, clinic.clock)


def test_an_admin_cannot_deactivate_themselves(qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace) -> None:
    admin.users.select_user("admin")
    dialog = admin.users.change_activation()
    assert dialog is not None
    qtbot.keyClicks(dialog.reason, "testing")  # type: ignore[attr-defined]
    press(dialog)
    assert dialog.isVisible() and "your own account" in dialog.error.text()
    dialog.reject()


def test_new_pin_for_a_pharmacist(qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace) -> None:
    admin.users.select_user("pharm")
    dialog = admin.users.reset_secrets()
    assert dialog is not None
    qtbot.keyClicks(dialog.pin, "2020")  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.pin_again, "2020")  # type: ignore[attr-defined]
    press(dialog)
    assert not dialog.isVisible()
    assert sign_in(clinic.database, "pharm", "2020", WORKSTATION, clinic.clock).actor.full_name == "Priya Patel"


# ------------------------------------------------------------------------------------------------ organisation


def test_organisation_details_with_a_bad_postcode_then_a_good_one(
    qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace
) -> None:
    panel = admin.organisation
    panel.chooser.setCurrentIndex(panel.chooser.findData(clinic.pharmacy.id))
    assert panel.name.text() == "Kirkgate Pharmacy"
    panel.name.setText("Kirkgate Pharmacy Ltd")
    panel.postcode.setText("LS99 ZZZZ")
    panel.save_button.click()
    assert "Not saved" in panel.message.text() and panel.message.property("outcome") == "block"
    assert panel.name.text() == "Kirkgate Pharmacy Ltd"  # what was typed is kept to be put right
    with clinic.database.reader() as session:
        assert session.get_one(Organisation, clinic.pharmacy.id).name == "Kirkgate Pharmacy"

    panel.postcode.setText("ls2 7dj")
    panel.save_button.click()
    assert "Saved" in panel.message.text()
    assert panel.postcode.text() == "LS2 7DJ"
    with clinic.database.reader() as session:
        assert session.get_one(Organisation, clinic.pharmacy.id).name == "Kirkgate Pharmacy Ltd"


# ------------------------------------------------------------------------------------------------ tokens


def test_token_ledger_credit_and_statement(qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace, tmp_path: Path) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 500, "Opening top-up")
    panel = admin.tokens
    assert panel is not None
    panel.refresh()
    row = [a.id for a in panel.accounts].index(account.id)
    panel.account_table.selectRow(row)
    assert panel.line_table.rowCount() == 1
    assert panel.line_table.item(0, 3).text() == "Opening top-up"
    assert "closing balance 500" in panel.totals.text()

    dialog = panel.credit()
    assert dialog is not None
    dialog.amount.setValue(0)  # type: ignore[attr-defined]
    press(dialog)
    assert dialog.isVisible() and "positive" in dialog.error.text()
    dialog.amount.setValue(250)  # type: ignore[attr-defined]
    qtbot.keyClicks(dialog.description, "Invoice 118 paid by transfer")  # type: ignore[attr-defined]
    press(dialog)
    assert not dialog.isVisible() and "250 tokens credited" in panel.message.text()
    assert panel.line_table.rowCount() == 2 and "closing balance 750" in panel.totals.text()
    assert panel.account_table.item(row, 2).text() == "750"

    panel.print_statement()
    qtbot.waitUntil(lambda: panel.preview is not None, timeout=10_000)
    assert panel.preview is not None and panel.preview.kind == "report"
    text = save_preview(qtbot, panel.preview, tmp_path / "statement.pdf")
    assert "Invoice 118 paid by transfer" in text and "750" in text


# ------------------------------------------------------------------------------------------------ catalogue


@pytest.fixture
def installed(tmp_path: Path, clinic: Clinic, zip_2019: Path) -> Path:
    """A data folder of its own with the 2019 sample installed (the session's shared replicas stay untouched)."""
    data = tmp_path / "data"
    data.mkdir()
    install_release(clinic.admin, data, zip_2019)
    return data


@pytest.fixture
def catalogue_panel(qtbot: QtBot, clinic: Clinic, installed: Path) -> Iterator[tuple[CataloguePanel, CatalogueWindow]]:
    window = CatalogueWindow(replica_path(installed))
    qtbot.addWidget(window)
    panel = CataloguePanel(clinic.admin, window.replica)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.counts.rowCount() > 0, timeout=10_000)
    yield panel, window
    QThreadPool.globalInstance().waitForDone()  # a worker still reading the replica outlives no test


def test_catalogue_panel_shows_the_installed_release(
    catalogue_panel: tuple[CataloguePanel, CatalogueWindow], installed: Path
) -> None:
    panel, _window = catalogue_panel
    with Catalogue(replica_path(installed)) as catalogue:
        info, counts = catalogue.release(), catalogue.counts()
    assert panel.release.text() == info.name
    assert panel.sha256.text() == info.archive_sha256
    shown = {panel.counts.item(r, 0).text(): panel.counts.item(r, 1).text() for r in range(panel.counts.rowCount())}
    assert shown["Actual medicinal product packs (AMPP)"] == f"{counts['ampp']:,}"
    assert not panel.progress.isVisible()


def test_import_a_release_with_progress(
    qtbot: QtBot, clinic: Clinic, catalogue_panel: tuple[CataloguePanel, CatalogueWindow], zip_2021: Path
) -> None:
    panel, window = catalogue_panel
    stages: list[str] = []
    operation = panel.import_release([zip_2021])
    assert operation is not None
    operation.progressed.connect(lambda stage, done, total: stages.append(stage))
    assert panel.progress.isVisible() and panel.cancel_button.isEnabled() and not panel.import_button.isEnabled()
    with qtbot.waitSignal(operation.finished, timeout=60_000):
        pass
    assert stages, "the build reported its progress"
    assert "Installed nhsbsa_dmd" in panel.message.text()
    assert not panel.progress.isVisible() and panel.import_button.isEnabled()
    new_sha = hashlib.sha256(zip_2021.read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: panel.sha256.text() == new_sha, timeout=10_000)
    assert window.catalogue is not None and window.catalogue.release().archive_sha256 == new_sha  # reopened
    assert [row.action for row in recent_events(clinic.admin, "catalogue.install")] == ["catalogue.install"] * 2


def test_a_cancelled_import_leaves_the_catalogue_as_it_was(
    qtbot: QtBot, catalogue_panel: tuple[CataloguePanel, CatalogueWindow], installed: Path, zip_2021: Path
) -> None:
    panel, window = catalogue_panel
    before = replica_path(installed).read_bytes()
    files_before = sorted(p.name for p in installed.rglob("*"))
    operation = panel.import_release([zip_2021])
    assert operation is not None
    panel.cancel_button.click()
    assert panel.stage.text() == "Stopping…" and not panel.cancel_button.isEnabled()
    with qtbot.waitSignal(operation.cancelled, timeout=60_000):
        pass
    qtbot.waitUntil(lambda: not panel.progress.isVisible(), timeout=5_000)
    assert "Cancelled. The previous catalogue is still in use" in panel.message.text()
    assert replica_path(installed).read_bytes() == before
    assert sorted(p.name for p in installed.rglob("*")) == files_before  # no temporary file left behind
    assert window.catalogue is not None and window.catalogue.search("para")  # still searching the old one


def test_a_corrupt_release_file_is_refused_and_nothing_changes(
    qtbot: QtBot, catalogue_panel: tuple[CataloguePanel, CatalogueWindow], installed: Path, tmp_path: Path
) -> None:
    panel, _window = catalogue_panel
    before = replica_path(installed).read_bytes()
    broken = tmp_path / "nhsbsa_dmd_12.0.0_20260101000001.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    operation = panel.import_release([broken])
    assert operation is not None
    with qtbot.waitSignal(operation.finished, timeout=30_000):
        pass
    text = panel.message.text()
    assert text.startswith("The catalogue was not replaced:") and "still in use" in text
    assert "Traceback" not in text and "Something went wrong that RxDesk did not expect" not in text
    assert replica_path(installed).read_bytes() == before


def test_two_main_releases_are_refused(catalogue_panel: tuple[CataloguePanel, CatalogueWindow], tmp_path: Path) -> None:
    panel, _window = catalogue_panel
    files = [tmp_path / "nhsbsa_dmd_1.zip", tmp_path / "nhsbsa_dmd_2.zip"]
    assert panel.import_release(files) is None
    assert "one main release" in panel.message.text()


def test_update_from_trud_with_the_key_entered_in_the_panel(
    qtbot: QtBot,
    catalogue_panel: tuple[CataloguePanel, CatalogueWindow],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    zip_2021: Path,
) -> None:
    panel, _window = catalogue_panel
    assert panel.update_from_trud() is None and "TRUD API key first" in panel.message.text()
    dialog = panel.enter_trud_key()
    press(dialog)
    assert dialog.isVisible() and "empty" in dialog.error.text()
    qtbot.keyClicks(dialog.key, f" {TRUD_KEY} ")  # type: ignore[attr-defined]
    press(dialog)
    assert get_trud_key() == TRUD_KEY and "saved in the keyring" in panel.message.text()

    with FakeTrud(keys={TRUD_KEY: {24}}) as trud:
        trud.publish(24, zip_2021)
        monkeypatch.setenv("RXDESK_TRUD_URL", trud.base_url)
        stages: list[str] = []
        operation = panel.update_from_trud()
        assert operation is not None
        operation.progressed.connect(lambda stage, done, total: stages.append(stage))
        with qtbot.waitSignal(operation.finished, timeout=60_000):
            pass
    assert "Downloading the dm+d release from TRUD" in stages
    assert panel.message.text().startswith("Installed the dm+d catalogue Release 4.0.1 of 26 August 2021")
    new_sha = hashlib.sha256(zip_2021.read_bytes()).hexdigest()
    qtbot.waitUntil(lambda: panel.sha256.text() == new_sha, timeout=10_000)


def test_trud_unreachable_says_so_and_keeps_the_catalogue(
    qtbot: QtBot,
    catalogue_panel: tuple[CataloguePanel, CatalogueWindow],
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    installed: Path,
) -> None:
    panel, _window = catalogue_panel
    set_trud_key(TRUD_KEY)
    monkeypatch.setenv("RXDESK_TRUD_URL", "http://127.0.0.1:9/trud")  # nothing listens on the discard port
    before = replica_path(installed).read_bytes()
    panel.network_policy = NetworkPolicy(
        attempts=1, base_delay=0.001, max_delay=0.01, max_retry_after=1, timeout=httpx.Timeout(2.0),
        sleep=lambda seconds: None,
    )  # fmt: skip
    operation = panel.update_from_trud()
    assert operation is not None
    with qtbot.waitSignal(operation.finished, timeout=60_000):
        pass
    assert panel.message.text().startswith("The catalogue was not replaced:")
    assert "did not expect" not in panel.message.text()
    assert replica_path(installed).read_bytes() == before


# ------------------------------------------------------------------------------------------------ audit log


def test_audit_log_filtered_and_verified_then_tampering_found(
    qtbot: QtBot, clinic: Clinic, admin: AdminWorkspace
) -> None:
    panel = admin.audit
    assert panel is not None
    admin.setCurrentWidget(panel)
    assert panel.table.rowCount() > 0
    qtbot.keyClicks(panel.filter, "priya")
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0 and "matching" in panel.summary.text(), timeout=5_000)
    assert {panel.table.item(r, 2).text() for r in range(panel.table.rowCount())} == {"Priya Patel"}
    panel.table.selectRow(0)
    assert "Before:" in panel.detail.toPlainText()

    operation = panel.verify()
    with qtbot.waitSignal(operation.finished, timeout=10_000):
        pass
    assert "The audit log is intact" in panel.message.text()

    tamper(clinic, "UPDATE audit_event SET workstation = 'elsewhere' WHERE seq = 2")
    operation = panel.verify()
    with qtbot.waitSignal(operation.finished, timeout=10_000):
        pass
    assert "tampered with" in panel.message.text() and panel.message.property("outcome") == "block"
    assert panel.last_report is not None and panel.last_report.first_broken_seq == 2
