"""The catalogue window (pytest-qt, offscreen): type-ahead search, keyboard, barcodes, detail, first start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool, QUrl
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core import paths
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue
from desktop.app import prepare_catalogue
from desktop.catalogue_window import CatalogueWindow
from desktop.detail_html import render_detail
from desktop.results_model import ResultRow

TIMEOUT_MS = 3000


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory, zip_2019: Path) -> Path:
    target = tmp_path_factory.mktemp("window") / "dmd.sqlite"
    build_replica(target, zip_2019, parallel=False)
    return target


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    yield
    pool = QThreadPool.globalInstance()
    assert pool.waitForDone(5000), "an operation was still running after the test"
    assert pool.activeThreadCount() == 0


def open_window(qtbot: QtBot, replica: Path) -> CatalogueWindow:
    window = CatalogueWindow(replica)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def window(qtbot: QtBot, replica: Path) -> Iterator[CatalogueWindow]:
    window = open_window(qtbot, replica)
    yield window
    window.close()
    assert window._detail_pool.activeThreadCount() == 0


def type_query(qtbot: QtBot, window: CatalogueWindow, text: str) -> list[ResultRow]:
    window.search_box.clear()
    qtbot.keyClicks(window.search_box, text)
    window.wait_for_search()
    qtbot.wait(60)  # a person pauses before the next key; a burst ending in Enter would be a barcode scan
    return window.results_model.rows()


def detail_text(window: CatalogueWindow) -> str:
    return window.detail.toPlainText()


# -- the window at start --------------------------------------------------------------------------------------


def test_window_starts_ready_to_type(window: CatalogueWindow) -> None:
    assert window.windowTitle() == "RxDesk — Medicines catalogue"
    assert window.focusWidget() is window.search_box
    assert window.search_box.placeholderText() == "Search medicines: name, brand, supplier…"
    assert window.search_box.accessibleName()
    assert window.hidden_checkbox.text() == "Show invalid, discontinued and unavailable"
    assert "nhsbsa_dmd_4.0.1_20190401000001" in window.release_label.text()
    assert "1 Apr 2019" in window.release_label.text()
    assert window.results_model.rowCount() == 0


# -- search ---------------------------------------------------------------------------------------------------


def test_search_as_you_type_lists_the_vtm_then_its_vmps(qtbot: QtBot, window: CatalogueWindow) -> None:
    rows = type_query(qtbot, window, "pilo")
    assert (rows[0].kind, rows[0].name) == ("vtm", "Pilocarpine")
    assert [r.kind for r in rows[1:3]] == ["vmp", "vmp"]
    assert all(r.name.startswith("Pilocarpine hydrochloride 6% eye drops") for r in rows[1:3])
    assert len(rows) <= 50
    assert "13 results" in window.summary_label.text()


def test_hidden_products_only_with_the_checkbox(qtbot: QtBot, window: CatalogueWindow) -> None:
    rows = type_query(qtbot, window, "nutrison")
    assert rows and not any("Waymade" in r.name for r in rows)
    window.hidden_checkbox.setChecked(True)
    window.wait_for_search()
    hidden = [r for r in window.results_model.rows() if "Waymade" in r.name]
    assert {r.status for r in hidden} == {"unavailable", "discontinued"}


@pytest.mark.parametrize("text", ['"', "NEAR(", 'NEAR("pilo', "*", "(", "'; DROP TABLE vmp; --", "^", "\\"])
def test_punctuation_finds_nothing_and_raises_nothing(qtbot: QtBot, window: CatalogueWindow, text: str) -> None:
    rows = type_query(qtbot, window, text)
    assert rows == []
    assert "No medicines match" in window.summary_label.text()
    assert window.findChild(QMessageBox) is None


def test_a_typed_barcode_shows_its_pack(qtbot: QtBot, window: CatalogueWindow) -> None:
    rows = type_query(qtbot, window, "8712400158572")
    assert rows[0].kind == "ampp"
    assert rows[0].name.startswith("Nutrison liquid")
    assert rows[0].match == "old barcode, ended 21 Jul 2013"  # the barcode is end-dated in this release


def test_a_barcode_with_a_wrong_check_digit_says_so(qtbot: QtBot, window: CatalogueWindow) -> None:
    rows = type_query(qtbot, window, "8712400158573")
    assert rows == []
    assert "check digit" in window.summary_label.text()


# -- keyboard and detail ----------------------------------------------------------------------------------


def test_down_moves_into_results_and_enter_shows_the_detail(qtbot: QtBot, window: CatalogueWindow) -> None:
    rows = type_query(qtbot, window, "pilo")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    assert window.results.hasFocus() or window.focusWidget() is window.results
    assert window.results.currentIndex().row() == 0
    qtbot.keyClick(window.results, Qt.Key.Key_Down)
    assert window.results.currentIndex().row() == 1
    assert rows[1].kind == "vmp"
    qtbot.keyClick(window.results, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Pilocarpine hydrochloride 60 mg/ml" in detail_text(window), timeout=TIMEOUT_MS)
    text = detail_text(window)
    assert rows[1].name in text
    assert "Eye drops" in text  # form
    assert "Ocular" in text  # route
    assert "Not a controlled drug" in text
    assert "Special Order" in text  # the AMP's supplier


def test_enter_in_the_search_box_shows_the_first_result(qtbot: QtBot, window: CatalogueWindow) -> None:
    type_query(qtbot, window, "pilocarpine")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Virtual therapeutic moiety" in detail_text(window), timeout=TIMEOUT_MS)
    assert "Pilocarpine hydrochloride 6% eye drops preservative free" in detail_text(window)


def test_up_from_the_first_result_and_typing_go_back_to_the_search(qtbot: QtBot, window: CatalogueWindow) -> None:
    type_query(qtbot, window, "pilo")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    qtbot.keyClick(window.results, Qt.Key.Key_Up)
    assert window.focusWidget() is window.search_box
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    qtbot.keyClicks(window.results, "c")
    assert window.search_box.text() == "piloc"


def test_pack_detail_shows_price_legal_category_and_barcodes(qtbot: QtBot, window: CatalogueWindow) -> None:
    type_query(qtbot, window, "8712400158572")
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Actual medicinal product pack" in detail_text(window), timeout=TIMEOUT_MS)
    text = detail_text(window)
    assert "£4.85" in text  # 485 pence
    assert "Not Applicable" in text  # legal category
    assert "8712400360258" in text  # the current barcode
    assert "8712400158572 (ended 21 Jul 2013)" in text
    assert "Nutricia Ltd" in text


def test_links_in_the_detail_open_that_product(qtbot: QtBot, window: CatalogueWindow) -> None:
    window.detail.anchorClicked.emit(QUrl("dmd:347208002"))
    qtbot.waitUntil(lambda: "Virtual medicinal product ·" in detail_text(window), timeout=TIMEOUT_MS)
    assert "Pilocarpine hydrochloride 6% eye drops" in detail_text(window)


# -- first start --------------------------------------------------------------------------------------------


def test_first_start_builds_the_catalogue_off_the_ui_thread(
    qtbot: QtBot, tmp_path: Path, zip_2019: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    shutil.copy(zip_2019, demo / zip_2019.name)
    monkeypatch.setattr(paths, "DEMO_RELEASE_DIR", demo)
    data = tmp_path / "data"
    data.mkdir()
    window = open_window(qtbot, paths.replica_path(data))
    assert window.catalogue is None
    assert "Preparing" in detail_text(window)
    qtbot.keyClicks(window.search_box, "pilo")  # typing while it builds
    with qtbot.waitSignal(prepare_catalogue(window, data).finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: window.results_model.rowCount() > 0, timeout=TIMEOUT_MS)
    assert window.results_model.row_at(0).name == "Pilocarpine"
    assert not window.progress.isVisible()
    assert "nhsbsa_dmd_4.0.1_20190401000001" in window.release_label.text()
    window.close()


def test_first_start_without_the_demo_release_shows_one_clear_message(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "DEMO_RELEASE_DIR", tmp_path / "nothing-here")
    data = tmp_path / "data"
    data.mkdir()
    window = open_window(qtbot, paths.replica_path(data))
    prepare_catalogue(window, data)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorBox") is not None, timeout=TIMEOUT_MS)
    box = window.findChild(QMessageBox, "errorBox")
    assert box.text() == "The medicines catalogue could not be prepared."
    assert "demo release is missing" in box.informativeText()
    assert "Traceback" not in box.informativeText() + box.detailedText()
    assert "No medicines catalogue" in detail_text(window)
    box.close()
    window.close()


def test_a_damaged_catalogue_is_reported_not_raised(qtbot: QtBot, tmp_path: Path) -> None:
    broken = tmp_path / "dmd.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    window = open_window(qtbot, broken)
    assert window.catalogue is None
    assert window.catalogue_error and "damaged" in window.catalogue_error
    assert "damaged" in detail_text(window)
    assert type_query(qtbot, window, "pilo") == []
    window.close()


# -- the detail renderer on its own -------------------------------------------------------------------------


def test_controlled_drug_schedule_and_strength_per_volume() -> None:
    vmp = {
        "vpid": "1",
        "nm": "Morphine 10mg/5ml oral solution",
        "ingredients": [
            {
                "ingredient": "Morphine sulfate",
                "strnt_nmrtr_val": 10.0,
                "strnt_nmrtr_uomcd": {"code": "1", "description": "mg"},
                "strnt_dnmtr_val": 5.0,
                "strnt_dnmtr_uomcd": {"code": "2", "description": "ml"},
            }
        ],
        "control": {"catcd": {"code": "0002", "description": "Schedule 2 (CD)"}},
        "cd_schedule": 2,
    }
    page = render_detail({"id": "1", "type": "vmp", "vmp": vmp, "vtm": None, "amps": [], "vmpps": []})
    assert "Morphine sulfate <b>10 mg in 5 ml</b>" in page
    assert "CD2" in page and "Schedule 2 — Schedule 2 (CD)" in page


def test_names_are_escaped() -> None:
    page = render_detail({"id": "1", "type": "vtm", "vtm": {"vtmid": "1", "nm": "<b>A & B</b>"}, "vmps": []})
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in page


def test_a_pack_scanned_anywhere_in_the_window_is_looked_up(qtbot: QtBot, demo_catalogue: Catalogue) -> None:
    gtin = demo_catalogue.conn.execute("SELECT gtin FROM gtin WHERE enddt IS NULL LIMIT 1").fetchone()[0]
    window = CatalogueWindow(demo_catalogue.path)
    qtbot.addWidget(window)
    window.show()
    window.results.setFocus()  # not the search box
    qtbot.waitUntil(window.results.hasFocus)
    window.scanner.scanned.emit(str(gtin))  # what a burst of keys ending in Enter produces (tests/test_scanner.py)
    assert window.search_box.text() == str(gtin)
    qtbot.waitUntil(lambda: window.results_model.rowCount() == 1, timeout=3000)


def test_type_and_schedule_filters(qtbot: QtBot, demo_catalogue: Catalogue) -> None:
    window = CatalogueWindow(demo_catalogue.path)
    qtbot.addWidget(window)
    window.search_box.setText("morphine")
    window.search_now()
    window.wait_for_search()
    everything = window.results_model.rows()
    assert {row.kind for row in everything} > {"vmp"}
    window.kind_filter.setCurrentIndex(2)  # VMP: generic products
    window.wait_for_search()
    assert {row.kind for row in window.results_model.rows()} == {"vmp"}
    window.schedule_filter.setCurrentIndex(window.schedule_filter.findText("CD Schedule 5"))
    window.wait_for_search()
    rows = window.results_model.rows()
    assert rows and all(demo_catalogue.cd_schedule_of_vmp(row.id) == 5 for row in rows)
