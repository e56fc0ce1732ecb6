"""Shared helpers of the benchmark scripts: the full-size release they run on, percentiles, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def full_release() -> Path:
    """The full-size synthetic release (generated once, then reused)."""
    from benchmarks.generate_release import FULL, generate_release

    existing = sorted(OUT.glob("full/nhsbsa_dmd_*.zip"))
    if existing:
        return existing[-1]
    print("Generating the full-size synthetic release (once)…", flush=True)
    return generate_release(OUT / "full", FULL).main_zip


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def describe_machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def summary(samples_ms: list[float], what: str = "lookups") -> str:
    return (
        f"p50 {percentile(samples_ms, 50):.3f} ms, p95 {percentile(samples_ms, 95):.3f} ms, "
        f"p99 {percentile(samples_ms, 99):.3f} ms, mean {statistics.fmean(samples_ms):.3f} ms "
        f"over {len(samples_ms)} {what}"
    )
