"""Full-size release zip → ready replica: wall time, rows/s and peak RSS (this process plus its worker).

python -m benchmarks.bench_import [ZIP]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import describe_machine, full_release
from core.dmd.build import build_replica
from core.dmd.layout import packs_files

# Runs in its own process, so sampling costs the measured processes nothing but a little CPU time. Resident
# memory is read from /proc (psutil) for this process and every descendant but the sampler, summed, every 50 ms.
_SAMPLER = """
import sys, time, psutil
root = psutil.Process(int(sys.argv[1]))
me = psutil.Process().pid
peak = 0
while True:
    try:
        procs = [root, *(c for c in root.children(recursive=True) if c.pid != me)]
        peak = max(peak, sum(p.memory_info().rss for p in procs))
    except psutil.Error:
        pass
    if sys.stdin in __import__("select").select([sys.stdin], [], [], 0.05)[0]:
        break
print(peak)
"""


class PeakRss:
    """Peak resident memory of this process and its children together (the parse worker included)."""

    def __enter__(self) -> PeakRss:
        self._sampler = subprocess.Popen(
            [sys.executable, "-c", _SAMPLER, str(os.getpid())], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.2)  # let it start sampling
        self.peak_mb = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self._sampler.communicate("stop\n")
        self.peak_mb = int(out.strip() or 0) / 1024**2


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
        size = sum(p.stat().st_size for p in [target, *packs_files(target)])
    print(f"import wall time: {wall:.2f} s")
    print(f"rows: {rows:,} ({rows / wall:,.0f} rows/s)")
    print(f"peak RSS: {rss.peak_mb:.0f} MB (this process and the parse worker together, sampled every 50 ms)")
    print(f"replica size: {size / 1024**2:.0f} MB (main file and packs file)")
    main_counts = {t: result.counts[t] for t in ("vtm", "vmp", "vmpp", "amp", "ampp", "gtin", "ing")}
    print(f"counts: {main_counts}")


if __name__ == "__main__":
    main()
