"""The replica file of a data directory: build it, replace it, make sure one exists."""

from __future__ import annotations

from pathlib import Path

from core.dmd.build import BuildResult, Progress, build_replica
from core.paths import demo_release, replica_path


def import_release(data: Path, main: Path, bonus: Path | None = None, progress: Progress | None = None) -> BuildResult:
    """Build the replica of ``data`` from a release; the previous one keeps serving until the swap."""
    return build_replica(replica_path(data), main, bonus, progress=progress)


def ensure_replica(data: Path, progress: Progress | None = None) -> BuildResult | None:
    """On first start, build the replica from the bundled demo release so a fresh install is useful at once."""
    if replica_path(data).exists():
        return None
    main, bonus = demo_release()
    return import_release(data, main, bonus, progress)
