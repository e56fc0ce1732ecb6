"""The barcode scanner as a keyboard (pytest-qt): a fast burst ending in Enter is a scan, typing never is."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from desktop.scanner import ScanDetector

GTIN = "05012345678900"


class FakeTime:
    """The detector's clock, moved by the test: key events carry no usable time under QTest."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def setup(qtbot: QtBot) -> tuple[QWidget, QLineEdit, QPushButton, ScanDetector, FakeTime, list[str]]:
    window = QWidget()
    field = QLineEdit()
    button = QPushButton("Default")
    QVBoxLayout(window).addWidget(field)
    window.layout().addWidget(button)
    qtbot.addWidget(window)
    window.show()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    clock = FakeTime()
    detector = ScanDetector(window, clock)
    scans: list[str] = []
    detector.scanned.connect(scans.append)
    return window, field, button, detector, clock, scans


def type_text(qtbot: QtBot, field: QLineEdit, clock: FakeTime, text: str, gap: float) -> None:
    for char in text:
        qtbot.keyClicks(field, char)
        clock.now += gap


def test_a_fast_burst_ending_in_enter_is_a_scan(qtbot: QtBot) -> None:
    _, field, _, _, clock, scans = setup(qtbot)
    type_text(qtbot, field, clock, GTIN, 0.01)
    qtbot.keyClick(field, "\r")
    assert scans == [GTIN]
    assert field.text() == ""  # the scan's characters were taken back out of the field


def test_typing_is_never_a_scan(qtbot: QtBot) -> None:
    _, field, _, _, clock, scans = setup(qtbot)
    type_text(qtbot, field, clock, GTIN, 0.12)  # a fast typist: 120 ms a key
    qtbot.keyClick(field, "\r")
    assert scans == [] and field.text() == GTIN


def test_short_bursts_and_pauses_are_not_scans(qtbot: QtBot) -> None:
    _, field, _, _, clock, scans = setup(qtbot)
    type_text(qtbot, field, clock, "1234", 0.01)  # too short for a barcode
    qtbot.keyClick(field, "\r")
    type_text(qtbot, field, clock, GTIN[:7], 0.01)
    clock.now += 0.5  # a pause in the middle: two people, or a person and a scanner
    type_text(qtbot, field, clock, GTIN[7:], 0.01)
    qtbot.keyClick(field, "\r")
    assert scans == []


def test_text_typed_before_a_scan_stays(qtbot: QtBot) -> None:
    _, field, _, _, clock, scans = setup(qtbot)
    type_text(qtbot, field, clock, "note ", 0.2)
    clock.now += 1
    type_text(qtbot, field, clock, GTIN, 0.005)
    qtbot.keyClick(field, "\r")
    assert scans == [GTIN] and field.text() == "note "
