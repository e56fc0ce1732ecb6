"""Full-size release zip → ready replica: wall time, rows/s and peak RSS (this process plus its worker).

python -m benchmarks.bench_import [ZIP] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def measure_one(release: Path) -> dict[str, object]:
    """One import into a new folder, in this (fresh) process: what a user's ``rxdesk dmd import`` does."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "dmd.sqlite"
        with PeakRss() as rss:
            start = time.perf_counter()
            result = build_replica(target, release)
            wall = time.perf_counter() - start
        size = sum(p.stat().st_size for p in [target, *packs_files(target)])
    return {"wall": wall, "peak_mb": rss.peak_mb, "size": size, "counts": result.counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", nargs="?", type=Path, help="a full-size release zip (default: generated once)")
    parser.add_argument("--runs", type=int, default=3, help="imports to time, each in a new process (default 3)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single run, printed as JSON
    args = parser.parse_args()
    release = args.zip or full_release()
    if args.one:
        print(json.dumps(measure_one(release)))
        return
    print(f"machine: {describe_machine()}")
    print(f"release: {release.name} ({release.stat().st_size / 1024**2:.1f} MB zip)")
    # Each run in a process of its own, as a user's import is: a second import in the same process would find
    # memory the first one left to it, and its modules imported.
    runs = []
    for _ in range(max(1, args.runs)):
        command = [sys.executable, "-m", "benchmarks.bench_import", str(release), "--one"]
        runs.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
    walls = [float(r["wall"]) for r in runs]
    peaks = [float(r["peak_mb"]) for r in runs]
    counts: dict[str, int] = runs[-1]["counts"]
    rows = sum(counts.values())
    # This machine's speed moves from run to run (a shared VM): every run is shown, and the median taken.
    wall = statistics.median(walls)
    print(f"import wall time: {wall:.2f} s (median of {len(walls)}: {', '.join(f'{w:.2f}' for w in walls)} s)")
    print(f"rows: {rows:,} ({rows / wall:,.0f} rows/s)")
    print(
        f"peak RSS: {max(peaks):.0f} MB (this process and the parse worker together, sampled every 50 ms; "
        f"runs: {', '.join(f'{p:.0f}' for p in peaks)} MB)"
    )
    print(f"replica size: {int(runs[-1]['size']) / 1024**2:.0f} MB (main file and packs file)")
    main_counts = {t: counts[t] for t in ("vtm", "vmp", "vmpp", "amp", "ampp", "gtin", "ing")}
    print(f"counts: {main_counts}")


if __name__ == "__main__":
    main()
