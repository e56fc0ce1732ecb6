"""Full-size release zip → ready replica: wall time, rows/s and peak RSS (this process plus its worker).

python -m benchmarks.bench_import [ZIP]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import describe_machine, full_release
from core.dmd.build import build_replica


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest child (the parse worker), from the kernel.

    Their sum bounds the peak of both together from above; no sampling thread perturbs the timing.
    """
    scale = 1024 if sys.platform != "darwin" else 1  # ru_maxrss is in KiB on Linux, bytes on macOS
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024**2
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 1024**2
    return main, worker


def main() -> None:
    release = Path(sys.argv[1]) if len(sys.argv) > 1 else full_release()
    print(f"machine: {describe_machine()}")
    print(f"release: {release.name} ({release.stat().st_size / 1024**2:.1f} MB zip)")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "dmd.sqlite"
        start = time.perf_counter()
        result = build_replica(target, release)
        wall = time.perf_counter() - start
        rows = sum(result.counts.values())
        size = target.stat().st_size
    print(f"import wall time: {wall:.2f} s")
    print(f"rows: {rows:,} ({rows / wall:,.0f} rows/s)")
    main_mb, worker_mb = peak_rss_mb()
    print(f"peak RSS: {main_mb + worker_mb:.0f} MB at most (main process {main_mb:.0f} MB + worker {worker_mb:.0f} MB)")
    print(f"replica size: {size / 1024**2:.0f} MB")
    main_counts = {t: result.counts[t] for t in ("vtm", "vmp", "vmpp", "amp", "ampp", "gtin", "ing")}
    print(f"counts: {main_counts}")


if __name__ == "__main__":
    main()
