"""Screenshots of the catalogue window on a real X display (Xvfb): ``make screenshots``.

    python docs/screenshots/take.py DATA_DIR OUT.png QUERY [ROW]

Types QUERY into the search box as a person would, moves to result ROW, opens its detail and saves the window.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from core import paths
from desktop.app import apply_style, prepare_catalogue
from desktop.catalogue_window import CatalogueWindow


def main() -> int:
    data, out, query = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    row = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    app = QApplication(["rxdesk"])
    app.setApplicationName("RxDesk")
    apply_style(app)
    window = CatalogueWindow(paths.replica_path(data))
    window.resize(1280, 800)
    window.show()
    if window.catalogue is None:
        prepare_catalogue(window, data)

    def type_query() -> None:
        window.activateWindow()
        window.search_box.setFocus()
        QTest.keyClicks(window.search_box, query, delay=30)
        QTimer.singleShot(300, pick_row)

    def pick_row() -> None:
        QTest.keyClick(window.search_box, Qt.Key.Key_Down)
        for _ in range(row):
            QTest.keyClick(window.results, Qt.Key.Key_Down)
        QTimer.singleShot(600, save)

    def save() -> None:
        window.grab().save(out)
        print("saved", out)
        window.close()

    QTimer.singleShot(1500, type_query)
    code = app.exec()
    window.deleteLater()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
