"""Admin → Catalogue: which dm+d release this workstation searches, and replacing it: a release file from disk,
or TRUD's newest downloaded with the key kept in the OS keyring. Progress and Cancel while it works.

The replica is rebuilt beside the one in use and swapped in at the end (core.dmd.build), so searching goes on
during an update, and a failed or cancelled one leaves the previous catalogue as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.catalogue_install import install_release, split_release_files
from core.context import ServiceContext
from core.dmd.build import BuildResult
from core.dmd.catalogue import Catalogue
from core.dmd.release_info import ReleaseInfo
from core.documents.formatting import format_date
from core.errors import RxDeskError, ValidationError
from desktop.catalogue_window import CATALOGUE_CHANGED
from desktop.form_dialog import FormDialog
from desktop.message_line import MessageLine
from desktop.messages import error_text
from desktop.operation import Operation, Report, change_notifier
from sync.catalogue_update import update_from_trud
from sync.secrets import get_trud_key, set_trud_key
from sync.trud import DEFAULT_POLICY, UpdateOutcome

log = logging.getLogger(__name__)
COUNT_NAMES = {
    "vtm": "Virtual therapeutic moieties (VTM)",
    "vmp": "Virtual medicinal products (VMP)",
    "vmpp": "Virtual medicinal product packs (VMPP)",
    "amp": "Actual medicinal products (AMP)",
    "ampp": "Actual medicinal product packs (AMPP)",
    "gtin": "Barcodes (GTIN)",
    "ingredient": "Ingredients",
    "lookup": "Lookup codes (forms, routes, units, ...)",
    "bnf": "BNF codes, ATC codes and DDDs (supplementary)",
    "history": "Previous ids (supplementary)",
    "vtm_ingredient": "VTM ingredients (supplementary)",
}


@dataclass(frozen=True)
class InstalledRelease:
    info: ReleaseInfo
    counts: dict[str, int]


def read_installed(replica: Path) -> InstalledRelease:
    """In a worker: its own connection, so the searches' connection is not shared across threads."""
    with Catalogue(replica) as catalogue:
        return InstalledRelease(catalogue.release(), catalogue.counts())


class TrudKeyDialog(FormDialog):
    changes = frozenset[str]()  # the keyring only: nothing to sync

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, "TRUD API key", "Save key")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("TRUD API key")
        self.key.setPlaceholderText("paste the key from your TRUD account page")
        self.key.setMinimumWidth(360)
        self.form.addRow("API key", self.key)
        hint = QLabel("Kept in this computer's keyring, never in RxDesk's files or logs.")
        hint.setWordWrap(True)
        self.form.addRow("", hint)
        self.key.setFocus()

    def write(self) -> object:
        try:
            set_trud_key(self.key.text())
        except ValueError as exc:  # empty
            raise ValidationError(str(exc)) from None
        return True


class CataloguePanel(QWidget):
    def __init__(self, ctx: ServiceContext, replica: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.replica = replica
        self.data = replica.parent
        self.operation: Operation | None = None
        self.network_policy = DEFAULT_POLICY  # timeouts and retries of TRUD downloads
        self.dialog: FormDialog | None = None
        self.setObjectName("adminCatalogue")

        self.release = QLabel("…")
        self.release.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.released = QLabel()
        self.bonus = QLabel()
        self.built = QLabel()
        self.sha256 = QLabel()
        self.sha256.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counts = QTableWidget(0, 2)
        self.counts.setHorizontalHeaderLabels(("Records", "Count"))
        self.counts.setAccessibleName("Records in the catalogue")
        self.counts.verticalHeader().hide()
        self.counts.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.counts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.counts.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.import_button = QPushButton("Import a release file…")
        self.import_button.setToolTip("A dm+d release zip from TRUD, with its supplementary zip if you have it")
        self.update_button = QPushButton("Update from TRUD")
        self.update_button.setToolTip("Download and install the newest weekly release (needs the network)")
        self.key_button = QPushButton("TRUD API key…")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Catalogue update progress")
        self.stage = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop: the catalogue in use now stays as it is")
        self.message = MessageLine()

        info = QFormLayout()
        info.addRow("Release", self.release)
        info.addRow("Released", self.released)
        info.addRow("Supplementary", self.bonus)
        info.addRow("Built on this computer", self.built)
        info.addRow("Archive SHA-256", self.sha256)
        buttons = QHBoxLayout()
        for button in (self.import_button, self.update_button, self.key_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        working = QHBoxLayout()
        working.addWidget(self.progress, 1)
        working.addWidget(self.cancel_button)
        heading = QLabel("Medicines catalogue (NHS dm+d)")
        heading.setObjectName("counterTitle")
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(info)
        layout.addWidget(self.counts, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.stage)
        layout.addLayout(working)
        layout.addWidget(self.message)
        self._show_working(False)
        self._missing_shown = False

        self.import_button.clicked.connect(self.choose_release)
        self.update_button.clicked.connect(self.update_from_trud)
        self.key_button.clicked.connect(self.enter_trud_key)
        self.cancel_button.clicked.connect(self.cancel)
        change_notifier().changed.connect(self._on_changes)
        self.refresh()

    # -- what is installed ----------------------------------------------------------------------------------------
    def refresh(self) -> Operation:
        replica = self.replica
        operation = Operation(lambda _report: read_installed(replica))
        operation.succeeded.connect(self._show_installed)
        operation.failed.connect(self._show_missing)
        return operation.start()

    def _on_changes(self, topics: frozenset[str]) -> None:
        if CATALOGUE_CHANGED in topics:
            self.refresh()

    def _show_installed(self, installed: InstalledRelease) -> None:
        info = installed.info
        if self._missing_shown:  # the first start's catalogue has been built since
            self.message.hide()
            self._missing_shown = False
        self.release.setText(info.name)
        self.released.setText(format_date(date.fromisoformat(info.release_date)) if info.release_date else "unknown")
        self.bonus.setText(info.bonus_name or "none (no BNF/ATC codes or code history)")
        self.built.setText(info.built_at.replace("T", " ")[:16] + " UTC")
        self.sha256.setText(info.archive_sha256)
        rows = [(COUNT_NAMES.get(key, key), count) for key, count in installed.counts.items()]
        self.counts.setRowCount(len(rows))
        for row, (name, count) in enumerate(rows):
            self.counts.setItem(row, 0, QTableWidgetItem(name))
            number = QTableWidgetItem(f"{count:,}")
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.counts.setItem(row, 1, number)

    def _show_missing(self, error: BaseException) -> None:
        self.release.setText("No catalogue is installed")
        for label in (self.released, self.bonus, self.built, self.sha256):
            label.clear()
        self.counts.setRowCount(0)
        self._missing_shown = True
        self.message.say(f"{error_text(error)} Import a release file or update from TRUD.", failed=True)

    # -- replacing it ---------------------------------------------------------------------------------------------
    def choose_release(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(
            self,
            "Choose the dm+d release (and its supplementary release)",
            str(Path.home()),
            "dm+d releases (nhsbsa_dmd*.zip);;Zip files (*.zip)",
        )
        if files:
            self.import_release([Path(name) for name in files])

    def import_release(self, files: list[Path]) -> Operation | None:
        try:
            main, bonus = split_release_files(files)
        except RxDeskError as exc:
            self.message.say(str(exc), failed=True)
            return None
        ctx, data = self.ctx, self.data
        return self._run(lambda report: install_release(ctx, data, main, bonus, report), f"Importing {main.name}")

    def update_from_trud(self) -> Operation | None:
        try:
            has_key = get_trud_key() is not None
        except RxDeskError as exc:
            self.message.say(str(exc), failed=True)
            return None
        if not has_key:
            self.message.say("Enter your TRUD API key first (TRUD API key…): it is on your TRUD account page.")
            return None
        ctx, data, policy = self.ctx, self.data, self.network_policy
        return self._run(
            lambda report: update_from_trud(ctx, data, report, policy=policy), "Asking TRUD for the newest release"
        )

    def enter_trud_key(self) -> FormDialog:
        self.dialog = TrudKeyDialog(self)
        self.dialog.written.connect(lambda _ok: self.message.say("The TRUD API key is saved in the keyring."))
        self.dialog.open()
        return self.dialog

    def cancel(self) -> None:
        if self.operation is not None:
            self.operation.cancel()
            self.cancel_button.setEnabled(False)
            self.stage.setText("Stopping…")

    def _run(self, work: Callable[[Report], object], first_stage: str) -> Operation:
        operation = Operation(work, changes={CATALOGUE_CHANGED})
        operation.progressed.connect(self.show_progress)
        operation.succeeded.connect(self._succeeded)
        operation.failed.connect(
            lambda error: self.message.say(
                f"The catalogue was not replaced: {error_text(error)} The previous catalogue is still in use.",
                failed=True,
            )
        )
        operation.cancelled.connect(
            lambda: self.message.say("Cancelled. The previous catalogue is still in use, unchanged.")
        )
        operation.finished.connect(lambda: self._show_working(False))
        self.operation = operation
        self.message.hide()
        self._show_working(True)
        self.show_progress(first_stage, 0, 0)
        return operation.start()

    def show_progress(self, stage: str, done: int, total: int) -> None:
        self.stage.setText(f"{stage}…")
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, done * 1000 // total))
        else:
            self.progress.setRange(0, 0)  # busy, no measure yet

    def _succeeded(self, result: BuildResult | UpdateOutcome) -> None:
        if isinstance(result, UpdateOutcome):
            self.message.say(result.message)
            return
        for warning in result.warnings:
            log.warning("dm+d release %s: %s", result.info.name, warning)
        warnings = f" ({len(result.warnings)} warnings in the log)" if result.warnings else ""
        self.message.say(f"Installed {result.info.name}: {result.counts.get('ampp', 0):,} packs{warnings}.")

    def _show_working(self, working: bool) -> None:
        for button in (self.import_button, self.update_button, self.key_button):
            button.setEnabled(not working)
        self.cancel_button.setEnabled(working)
        for widget in (self.progress, self.stage, self.cancel_button):
            widget.setVisible(working)
        if not working:
            self.operation = None
