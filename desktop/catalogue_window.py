"""The catalogue window: search the dm+d replica as you type, scan or type a barcode, read a product's detail."""

from __future__ import annotations

import contextlib
import html
import sqlite3
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QThreadPool, QTimer, QUrl
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.dmd.catalogue import Catalogue, GtinMatch
from core.dmd.errors import DmdError, InvalidGtinError, ReplicaMissingError
from core.dmd.search_index import KIND_NAMES
from desktop.detail_html import STYLE, format_date, render_detail
from desktop.messages import error_text
from desktop.operation import Operation, change_notifier
from desktop.results_model import NAME_COLUMN, STATUS_COLUMN, TYPE_COLUMN, BadgeDelegate, ResultRow, ResultsModel
from desktop.scanner import ScanDetector
from desktop.type_ahead import TypeAheadSearch

CATALOGUE_CHANGED = "catalogue"  # the change topic announced when the replica was (re)built
MAX_RESULTS = 50
SEARCH_DELAY_MS = 0  # searches run off the UI thread and skip what was overtaken: no need to wait for a pause
DETAIL_DELAY_MS = 80  # arrowing through results loads the detail of the row the user stops on

WELCOME_HTML = f"""<html><head><style>{STYLE}</style></head><body>
<p class="h1">Medicines catalogue</p>
<p class="meta">The NHS dictionary of medicines and devices (dm+d), on this computer: it works offline.</p>
<p class="h2">Find a medicine</p>
<p>Type part of a name, brand or supplier, e.g. <b>pilo</b>, <b>co-amil 5</b> or <b>nutricia</b>.</p>
<p>Scan a pack's barcode, or type its 13 or 14 digits, to find the pack.</p>
<p class="h2">Keyboard</p>
<table class="facts" cellspacing="0">
<tr><th>↓</th><td>move from the search box into the results</td></tr>
<tr><th>Enter</th><td>show the detail of the highlighted result</td></tr>
<tr><th>Esc</th><td>clear the search</td></tr>
<tr><th>Ctrl+F</th><td>back to the search box</td></tr>
</table>
</body></html>"""

PREPARING_HTML = f"""<html><head><style>{STYLE}</style></head><body>
<p class="h1">Preparing the medicines catalogue…</p>
<p class="meta">On first start RxDesk builds its catalogue from the demo release it ships with.
This takes a few seconds; you can search as soon as it is ready.</p>
</body></html>"""


# The search filters: a label and what it passes to Catalogue.search.
KIND_FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("All types", KIND_NAMES),
    ("VTM: substances", ("vtm",)),
    ("VMP: generic products", ("vmp",)),
    ("AMP: branded products", ("amp",)),
    ("VMPP: generic packs", ("vmpp",)),
    ("AMPP: branded packs", ("ampp",)),
)
SCHEDULE_FILTERS: tuple[tuple[str, frozenset[int] | None], ...] = (
    ("Any medicine", None),
    ("Controlled drugs", frozenset({1, 2, 3, 4, 5})),
    *((f"CD Schedule {n}", frozenset({n})) for n in (2, 3, 4, 5)),
)


def find_rows(
    catalogue: Catalogue, text: str, include_hidden: bool, kinds: tuple[str, ...], schedules: frozenset[int] | None
) -> tuple[list[ResultRow], str]:
    """What the results list shows for ``text``, and a note about a typed barcode (runs off the UI thread)."""
    try:
        barcode_rows, note = barcode_rows_of(catalogue, text.strip())
        hits = catalogue.search(
            text, limit=MAX_RESULTS, include_hidden=include_hidden, kinds=kinds, cd_schedules=schedules
        )
    except (DmdError, sqlite3.Error) as exc:
        return [], error_text(exc)
    shown = {(r.kind, r.id) for r in barcode_rows}
    rows = barcode_rows + [ResultRow(h.id, h.type, h.name, h.status) for h in hits if (h.type, h.id) not in shown]
    return rows[:MAX_RESULTS], note


def barcode_rows_of(catalogue: Catalogue, text: str) -> tuple[list[ResultRow], str]:
    """The pack(s) of a typed or scanned GTIN, and a note when the digits are not a valid barcode."""
    if not (text.isdigit() and text.isascii() and len(text) in (13, 14)):
        return [], ""
    try:
        matches = catalogue.find_gtin(text)
    except InvalidGtinError as exc:
        return [], str(exc)
    rows = []
    for m in matches:
        how = f"old barcode, ended {format_date(m.end_date)}" if m.end_dated else "barcode match"
        name = m.ampp_name or f"Pack {m.ampp_id}"
        rows.append(ResultRow(m.ampp_id, "ampp", name, _pack_status(catalogue, m), how, match_is_old=m.end_dated))
    return rows, "" if rows else f"No pack in this catalogue has the barcode {text}."


def _pack_status(catalogue: Catalogue, match: GtinMatch) -> str | None:
    """Whether the scanned pack is discontinued or invalid: its search entry says so."""
    if not match.ampp_name:
        return None
    hits = catalogue.search(match.ampp_name, limit=10, include_hidden=True, kinds=("ampp",))
    return next((hit.status for hit in hits if hit.id == match.ampp_id), None)


class CatalogueWindow(QMainWindow):
    def __init__(self, replica: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.replica = replica
        self.catalogue: Catalogue | None = None
        self.catalogue_error: str | None = None  # why the replica could not be opened, if it could not
        self._detail_pool = QThreadPool(self)
        self._detail_pool.setMaxThreadCount(1)
        self._detail_generation = 0
        self._detail_id: int | None = None  # the product whose detail is shown or loading
        self._search = TypeAheadSearch(self)
        self._search.answered.connect(self._show_rows)
        self._search.failed.connect(self._search_failed)
        self._build_ui()
        change_notifier().changed.connect(self._on_changes)
        self.open_catalogue()

    # -- layout ---------------------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.setWindowTitle("RxDesk — Medicines catalogue")
        self.setObjectName("catalogueWindow")
        self.resize(1240, 780)

        self.search_box = QLineEdit()
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Search medicines: name, brand, supplier…")
        self.search_box.setAccessibleName("Search medicines")
        self.search_box.setAccessibleDescription(
            "Type a medicine name, brand or supplier, or a pack barcode. Press Down to move into the results."
        )
        self.search_box.setClearButtonEnabled(True)
        self.search_box.textChanged.connect(self._schedule_search)
        self.search_box.installEventFilter(self)

        self.hidden_checkbox = QCheckBox("Show invalid, discontinued and unavailable")
        self.hidden_checkbox.setToolTip("Also list products that are hidden by default")
        self.hidden_checkbox.toggled.connect(self.search_now)
        self.kind_filter = QComboBox()
        self.kind_filter.setAccessibleName("Product type")
        for label, kinds in KIND_FILTERS:
            self.kind_filter.addItem(label, kinds)
        self.kind_filter.currentIndexChanged.connect(self.search_now)
        self.schedule_filter = QComboBox()
        self.schedule_filter.setAccessibleName("Controlled drug schedule")
        for label, schedules in SCHEDULE_FILTERS:
            self.schedule_filter.addItem(label, schedules)
        self.schedule_filter.currentIndexChanged.connect(self.search_now)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("summaryLabel")

        self.results_model = ResultsModel(self)
        self.results = QTableView()
        self.results.setObjectName("results")
        self.results.setAccessibleName("Search results")
        self.results.setModel(self.results_model)
        self.results.setItemDelegateForColumn(TYPE_COLUMN, BadgeDelegate(self.results))
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setTabKeyNavigation(False)
        self.results.setShowGrid(False)
        self.results.setWordWrap(False)
        self.results.setAlternatingRowColors(True)
        self.results.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.results.verticalHeader().hide()
        self.results.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 14)
        header = self.results.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(TYPE_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATUS_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(TYPE_COLUMN, self.fontMetrics().horizontalAdvance("VMPP") + 28)
        self.results.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        self.results.doubleClicked.connect(self._open_index)
        self.results.installEventFilter(self)

        self.detail = QTextBrowser()
        self.detail.setObjectName("detail")
        self.detail.setAccessibleName("Product detail")
        self.detail.setOpenLinks(False)
        self.detail.anchorClicked.connect(self._on_link)
        self.detail.setHtml(WELCOME_HTML)

        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(self.search_box, 1)
        top.addWidget(self.kind_filter)
        top.addWidget(self.schedule_filter)
        top.addWidget(self.hidden_checkbox)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.results)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 6)
        splitter.setSizes([540, 660])

        central = QWidget()
        central.setObjectName("central")
        layout = QVBoxLayout(central)
        layout.setContentsMargins(16, 14, 16, 10)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setObjectName("buildProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.progress.hide()
        self.release_label = QLabel()
        self.release_label.setObjectName("releaseLabel")
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.release_label)

        # A pack scanned anywhere in the window is looked up at once, whatever has the focus.
        self.scanner = ScanDetector(self)
        self.scanner.scanned.connect(self.show_scanned)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.search_now)
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self._load_current_detail)

        for keys in (QKeySequence.StandardKey.Find, QKeySequence("Ctrl+L"), QKeySequence("F6")):
            QShortcut(keys, self, self.focus_search)
        self.search_box.setFocus()

    # -- the replica -------------------------------------------------------------------------------------------

    def open_catalogue(self) -> bool:
        """(Re)open the replica; on failure the window says why and searching finds nothing."""
        self._close_catalogue()
        self.catalogue_error = None
        try:
            self.catalogue = Catalogue(self.replica)
            info = self.catalogue.release()
        except ReplicaMissingError:
            self.release_label.setText("No catalogue yet")
            self.detail.setHtml(PREPARING_HTML)
            return False
        except (DmdError, sqlite3.Error, OSError) as exc:
            self._close_catalogue()
            self.catalogue_error = error_text(exc)
            self.show_unavailable(self.catalogue_error)
            return False
        released = f" · released {format_date(info.release_date)}" if info.release_date else ""
        self.release_label.setText(f"Catalogue: {info.name}{released}")
        tip = [f"dm+d release {info.name}", f"built {info.built_at}"]
        if info.bonus_name:
            tip.insert(1, f"supplementary release {info.bonus_name}")
        self.release_label.setToolTip("\n".join(tip))
        if self._detail_id is None:
            self.detail.setHtml(WELCOME_HTML)
        else:
            self.show_detail(self._detail_id)
        self.search_now()
        return True

    def _close_catalogue(self) -> None:
        self._search.cancel()
        self._search.wait()  # a search or a detail being read uses the connection
        self._detail_pool.waitForDone()
        if self.catalogue is not None:
            self.catalogue.close()
            self.catalogue = None

    def _on_changes(self, topics: frozenset[str]) -> None:
        if CATALOGUE_CHANGED in topics:
            self.open_catalogue()

    def show_progress(self, stage: str, done: int, total: int) -> None:
        self.progress.show()
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(min(1000, done * 1000 // total))
        else:
            self.progress.setRange(0, 0)  # busy
        self.statusBar().showMessage(f"{stage}…")

    def show_unavailable(self, reason: str) -> None:
        """No catalogue to search: say why and what to do, in the detail pane."""
        self.release_label.setText("No catalogue")
        self.detail.setHtml(
            f'<html><head><style>{STYLE}</style></head><body><p class="h1">No medicines catalogue</p>'
            f'<p>{html.escape(reason)}</p><p class="meta">Import a dm+d release from the command line with '
            "<b>rxdesk dmd import PATH</b>, or download the newest with <b>rxdesk dmd update</b>.</p></body></html>"
        )

    def hide_progress(self) -> None:
        self.progress.hide()
        self.statusBar().clearMessage()

    # -- search --------------------------------------------------------------------------------------------------

    def show_scanned(self, code: str) -> None:
        self.search_box.setText(code)
        self.search_box.setFocus()
        self.search_now()

    def _schedule_search(self) -> None:
        self._search_timer.start()

    def search_now(self) -> None:
        """Search for what is typed, off the UI thread; the results replace the list when they come back."""
        self._search_timer.stop()
        text = self.search_box.text()
        catalogue = self.catalogue
        if catalogue is None or not text.strip():
            self._search.cancel()
            self.results_model.set_rows([])
            self._update_summary(text, 0, "")
            return
        hidden = self.hidden_checkbox.isChecked()
        kinds, schedules = self.kind_filter.currentData(), self.schedule_filter.currentData()
        self._search.request(text, lambda: find_rows(catalogue, text, hidden, kinds, schedules))

    def wait_for_search(self) -> None:
        """The results of what is typed, now (Enter or Down pressed before they came back; tests)."""
        if self._search_timer.isActive():
            self.search_now()
        self._search.settle()

    def _show_rows(self, text: str, found: tuple[list[ResultRow], str]) -> None:
        rows, note = found
        self.results_model.set_rows(rows)
        self._update_summary(text, len(rows), note)

    def _search_failed(self, text: str, error: BaseException) -> None:
        self.results_model.set_rows([])
        self._update_summary(text, 0, error_text(error))

    def _update_summary(self, text: str, count: int, note: str) -> None:
        """One line above the results: how many, or why there are none (``note``: about the barcode typed)."""
        if not text.strip() or self.catalogue is None:
            summary = ""
        elif count == 0 and note:
            summary, note = note, ""
        elif count == 0:
            summary = f"No medicines match “{text.strip()}”."
            if not self.hidden_checkbox.isChecked():
                summary += " Tick “Show invalid…” to include hidden products."
        elif count >= MAX_RESULTS:
            summary = f"First {count} results: type more to narrow the search."
        else:
            summary = f"{count} result{'s' if count != 1 else ''}"
        self.summary_label.setText(f"{note} {summary}".strip() if note else summary)

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    # -- keyboard ------------------------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if watched is self.search_box:
                return self._search_box_key(event)
            if watched is self.results:
                return self._results_key(event)
        return super().eventFilter(watched, event)

    def _search_box_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self._flush_search()
            if self.results_model.rowCount():
                self.results.setFocus(Qt.FocusReason.OtherFocusReason)
                current = self.results.currentIndex()
                self._select_row(current.row() if current.isValid() else 0)
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._flush_search()
            current = self.results.currentIndex()
            if not current.isValid() and self.results_model.rowCount():
                self._select_row(0)
            self._load_current_detail()
            return True
        if key == Qt.Key.Key_Escape and self.search_box.text():
            self.search_box.clear()
            return True
        return False

    def _results_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._load_current_detail()
            return True
        if key == Qt.Key.Key_Up and self.results.currentIndex().row() <= 0:
            self.focus_search()
            return True
        if key == Qt.Key.Key_Escape:
            self.focus_search()
            return True
        text = event.text()
        if key == Qt.Key.Key_Backspace or (text and text.isprintable() and not text.isspace()):
            # Typing (or a barcode scanner) while the results have focus goes on with the search.
            self.search_box.setFocus(Qt.FocusReason.OtherFocusReason)
            QApplication.sendEvent(self.search_box, event)
            return True
        return False

    def _flush_search(self) -> None:
        self.wait_for_search()

    def _select_row(self, row: int) -> None:
        self.results.setCurrentIndex(self.results_model.index(row, NAME_COLUMN))

    # -- detail --------------------------------------------------------------------------------------------------

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._detail_timer.start()

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.show_detail(self.results_model.row_at(index.row()).id)

    def _load_current_detail(self) -> None:
        self._detail_timer.stop()
        self._open_index(self.results.currentIndex())

    def _on_link(self, url: QUrl) -> None:
        if url.scheme() == "dmd" and url.path().isdigit():
            self.show_detail(int(url.path()))

    def show_detail(self, product_id: int) -> None:
        """Read and render the product's detail in a worker; only the latest request is shown."""
        catalogue = self.catalogue
        if catalogue is None:
            return
        self._detail_generation += 1
        generation = self._detail_generation
        self._detail_id = product_id
        operation = Operation(lambda _report: render_detail(catalogue.product_detail(product_id)))
        operation.succeeded.connect(lambda page: self._show_detail_page(generation, page))
        operation.failed.connect(lambda error: self._show_detail_error(generation, error))
        operation.start(self._detail_pool)

    def _show_detail_page(self, generation: int, page: str) -> None:
        if generation == self._detail_generation:
            self.detail.setHtml(page)

    def _show_detail_error(self, generation: int, error: BaseException) -> None:
        if generation == self._detail_generation:
            self.detail.setPlainText(f"This product could not be shown.\n\n{error_text(error)}")

    # -- closing -------------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._search_timer.stop()
        self._detail_timer.stop()
        self._detail_generation += 1  # a detail still on its way is dropped
        with contextlib.suppress(RuntimeError, TypeError):  # already disconnected
            change_notifier().changed.disconnect(self._on_changes)
        self._close_catalogue()
        super().closeEvent(event)
