"""Every benchmark, in turn: ``make bench``.

Each runs in a fresh process, so one's memory (the release generator's, say) never counts in another's figures.
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import full_release

CLINICAL = (
    ("signing a prescription", "benchmarks.bench_signing"),
    ("dispensing with a CD register entry", "benchmarks.bench_dispensing"),
    ("patient search and CSV import", "benchmarks.bench_patients"),
    ("printed documents", "benchmarks.bench_documents"),
    ("cold start of the desktop app", "benchmarks.bench_startup"),
    ("keystroke to results in the desktop app", "benchmarks.bench_type_ahead"),
    ("sync with the server (stand-in over loopback)", "benchmarks.bench_sync"),
)


def main() -> None:
    release = full_release()
    print("== dm+d import ==", flush=True)
    subprocess.run([sys.executable, "-m", "benchmarks.bench_import", str(release)], check=True)
    print("\n== search and barcode lookup ==", flush=True)
    subprocess.run([sys.executable, "-m", "benchmarks.bench_search"], check=True)
    for title, module in CLINICAL:
        print(f"\n== {title} ==", flush=True)
        subprocess.run([sys.executable, "-m", module], check=True)


if __name__ == "__main__":
    main()
