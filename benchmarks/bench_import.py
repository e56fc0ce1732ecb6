"""Full-size release zip → ready replica: wall time, rows/s and peak RSS (this process plus its worker).

python -m benchmarks.bench_import [ZIP]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.common import describe_machine, full_release
from core.dmd.build import build_replica


class PeakRss:
    """Samples the resident memory of this process and its children together every few milliseconds."""

    def __init__(self) -> None:
        self.peak_total = 0
        self.peak_main = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                main = me.memory_info().rss
                total = main + sum(c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_main = max(self.peak_main, main)
            self.peak_total = max(self.peak_total, total)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    release = Path(sys.argv[1]) if len(sys.argv) > 1 else full_release()
    print(f"machine: {describe_machine()}")
    print(f"release: {release.name} ({release.stat().st_size / 1024**2:.1f} MB zip)")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "dmd.sqlite"
        with PeakRss() as rss:
            start = time.perf_counter()
            result = build_replica(target, release)
            wall = time.perf_counter() - start
        rows = sum(result.counts.values())
        size = target.stat().st_size
    print(f"import wall time: {wall:.2f} s")
    print(f"rows: {rows:,} ({rows / wall:,.0f} rows/s)")
    print(f"peak RSS: {rss.peak_total / 1024**2:.0f} MB (main process {rss.peak_main / 1024**2:.0f} MB + worker)")
    print(f"replica size: {size / 1024**2:.0f} MB")
    main_counts = {t: result.counts[t] for t in ("vtm", "vmp", "vmpp", "amp", "ampp", "gtin", "ing")}
    print(f"counts: {main_counts}")


if __name__ == "__main__":
    main()
