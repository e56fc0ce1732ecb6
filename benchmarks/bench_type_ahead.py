"""Keystroke → results on screen, in the real widgets, on the full-size catalogue (offscreen Qt).

    python -m benchmarks.bench_type_ahead [REPLICA]

The prescription composer's medicine box and the Medicines workspace's search box are typed into one key at a
time, as a person types (each key after the previous answer arrived). Each sample runs from the key press being
sent to the results list having been filled for the text typed so far. The time the key press itself holds the UI
thread is measured too: searches run off the UI thread, so it stays small however slow a query is.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from benchmarks.bench_search import COMMON_DRUGS, TWO_WORDS
from benchmarks.common import OUT, describe_machine, full_release, percentile, summary
from core.dmd.build import build_replica
from core.dmd.catalogue import Catalogue

PREFIX_LENGTH = 6  # keys typed per drug name
HUMAN_PAUSE_S = 0.06  # longer than a scanner's 35 ms between keys, so typing is never taken for a scan


def full_replica() -> Path:
    """The full-size replica, built once from the full-size release and reused."""
    replica = OUT / "full" / "dmd.sqlite"
    if not replica.exists():
        print("Building the full-size replica (once)…", flush=True)
        build_replica(replica, full_release())
    return replica


def type_and_time(box: QLineEdit, texts: list[str], shown: Callable[[str], bool]) -> tuple[list[float], list[float]]:
    """Type each text key by key; per key: ms until ``shown(text so far)``, and ms the key press held the UI."""
    latencies, held = [], []
    for text in texts:
        box.clear()
        QCoreApplication.processEvents()
        for n in range(1, len(text) + 1):
            time.sleep(HUMAN_PAUSE_S)
            start = time.perf_counter()
            QTest.keyClick(box, text[n - 1])
            held.append((time.perf_counter() - start) * 1000)
            while not shown(text[:n]):
                QCoreApplication.processEvents()
                if time.perf_counter() - start > 5:
                    raise TimeoutError(f"no results for {text[:n]!r}")
            latencies.append((time.perf_counter() - start) * 1000)
    return latencies, held


def report(what: str, latencies: list[float], held: list[float]) -> None:
    print(f"{what}: keystroke → results {summary(latencies, 'keystrokes')}")
    print(f"  UI thread held by a key press: p95 {percentile(held, 95):.2f} ms, max {max(held):.2f} ms")
    print(f"  target p95 <= 50 ms: {'met' if percentile(latencies, 95) <= 50 else 'NOT met'}")


def main() -> None:
    from core.demo import DEMO_PASSWORD, ensure_demo_installation
    from core.storage.database import open_database
    from core.users.service import sign_in
    from desktop.catalogue_window import CatalogueWindow
    from desktop.prescribe_panel import PrescribePanel

    replica = Path(sys.argv[1]) if len(sys.argv) > 1 else full_replica()
    print(f"machine: {describe_machine()}")
    texts = [drug[:PREFIX_LENGTH] for drug in COMMON_DRUGS] + list(TWO_WORDS)
    app = QApplication(["rxdesk-bench"])
    with tempfile.TemporaryDirectory() as tmp, Catalogue(replica) as catalogue:
        print(f"catalogue: {catalogue.release().name}, {sum(catalogue.counts().values()):,} records")
        database = open_database(Path(tmp) / "rxdesk.sqlite")
        ensure_demo_installation(database)
        ctx = sign_in(database, "doctor", DEMO_PASSWORD, "bench")
        panel = PrescribePanel(ctx, lambda: catalogue)
        panel.resize(1280, 800)
        panel.show()
        panel.patient_box.setText("jones")
        panel._pick_first_patient()
        answered: list[str] = []
        panel.medicine_search.answered.connect(lambda text, _hits: answered.append(text))
        for text in texts[:5]:  # warm the page cache, as a running app has it
            panel.medicine_box.setText(text)
            panel.medicine_search.settle()
        latencies, held = type_and_time(panel.medicine_box, texts, lambda text: bool(answered) and answered[-1] == text)
        report(f"prescription composer ({len(texts)} names typed key by key)", latencies, held)
        panel.close()

        window = CatalogueWindow(replica)
        window.resize(1280, 800)
        window.show()
        shown: list[str] = []
        window._search.answered.connect(lambda text, _rows: shown.append(text))
        latencies, held = type_and_time(window.search_box, texts, lambda text: bool(shown) and shown[-1] == text)
        report("Medicines workspace", latencies, held)
        window.close()
        database.close()
    app.processEvents()


if __name__ == "__main__":
    main()
