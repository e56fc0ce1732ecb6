"""Installing a dm+d release as a signed-in admin: the replica is replaced, and who did it is audited."""

from __future__ import annotations

from pathlib import Path

from core.audit.log import record_event
from core.context import ServiceContext
from core.dmd.build import BuildResult, Progress
from core.dmd.replica import import_release
from core.users.roles import Permission, require


def install_release(
    ctx: ServiceContext, data: Path, main: Path, bonus: Path | None = None, progress: Progress | None = None
) -> BuildResult:
    """Build the replica of ``data`` from a release (the previous one serves until the swap, and stays if this
    fails), then record the installation in the audit log."""
    require(ctx, Permission.MANAGE_CATALOGUE)
    result = import_release(data, main, bonus, progress)
    info = result.info
    with ctx.database.transaction() as session:
        record_event(
            session,
            ctx,
            "catalogue.install",
            "dmd_release",
            info.name,
            after={
                "release": info.name,
                "bonus_release": info.bonus_name,
                "archive_sha256": info.archive_sha256,
                "counts": {k: result.counts[k] for k in ("vtm", "vmp", "vmpp", "amp", "ampp", "gtin")},
                "warnings": len(result.warnings),
            },
        )
    return result
