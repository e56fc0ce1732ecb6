"""Rendering time of each printable document (target: 50 ms or less per render).

    python -m benchmarks.bench_documents [RENDERS]

Each document is the sample of benchmarks/document_samples.py, rendered to PDF bytes in memory, RENDERS times
(default 200) after 20 warm-up renders, as the GUI's print worker would render it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks import document_samples as samples
from benchmarks.common import describe_machine, percentile
from core.documents.cd_register_page import render_cd_register
from core.documents.label import render_label
from core.documents.prescription_form import render_prescription
from core.documents.receipt import render_receipt
from core.documents.token_statement import render_token_statement

TARGET_MS = 50.0
WARM_UP = 20


def documents() -> list[tuple[str, Callable[[], bytes]]]:
    receipt, label, prescription = samples.receipt(), samples.label(), samples.prescription()
    one_page_register, long_register = samples.cd_register(18), samples.cd_register(120)
    statement = samples.token_statement(60)
    return [
        ("receipt (3 items, 80 mm roll)", lambda: render_receipt(receipt)),
        ("dispensing label (70 x 35 mm)", lambda: render_label(label)),
        ("prescription A5 (3 items, 1 CD)", lambda: render_prescription(prescription, "A5")),
        ("prescription A4 (3 items, 1 CD)", lambda: render_prescription(prescription, "A4")),
        ("CD register, 18 entries (1 page)", lambda: render_cd_register(one_page_register)),
        ("CD register, 120 entries (7 pages)", lambda: render_cd_register(long_register)),
        ("token statement, 60 entries (2 pages)", lambda: render_token_statement(statement)),
    ]


def time_renders(render: Callable[[], bytes], count: int) -> tuple[list[float], int]:
    for _ in range(WARM_UP):
        size = len(render())
    samples_ms = []
    for _ in range(count):
        start = time.perf_counter()
        render()
        samples_ms.append((time.perf_counter() - start) * 1000)
    return samples_ms, size


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"machine: {describe_machine()}")
    print(f"{count} renders each after {WARM_UP} warm-up renders; target <= {TARGET_MS:.0f} ms per render")
    for name, render in documents():
        times, size = time_renders(render, count)
        verdict = "ok" if percentile(times, 95) <= TARGET_MS else "OVER TARGET"
        print(
            f"{name:<40} p50 {percentile(times, 50):6.1f} ms, p95 {percentile(times, 95):6.1f} ms, "
            f"max {max(times):6.1f} ms, {size / 1024:5.1f} KiB  {verdict}"
        )


if __name__ == "__main__":
    main()
