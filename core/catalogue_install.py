"""Installing a dm+d release as a signed-in admin: the replica is replaced, and who did it is audited."""

from __future__ import annotations

from pathlib import Path

from core.audit.log import record_event
from core.context import ServiceContext
from core.dmd.build import BuildResult, Progress
from core.dmd.replica import import_release
from core.errors import ValidationError
from core.users.roles import Permission, require

BONUS_PREFIX = "nhsbsa_dmdbonus"  # TRUD's name for the supplementary release (item 25)


def split_release_files(paths: list[Path]) -> tuple[Path, Path | None]:
    """The main release and the optional supplementary one among files an admin picked, told apart by TRUD's
    names (a single file is the main release whatever it is called)."""
    if not paths:
        raise ValidationError("Choose the dm+d release zip (nhsbsa_dmd_….zip) to import.")
    bonus = [p for p in paths if p.name.lower().startswith(BONUS_PREFIX)]
    main = [p for p in paths if p not in bonus]
    if len(paths) == 1:
        return paths[0], None
    if len(main) != 1 or len(bonus) > 1:
        raise ValidationError(
            "Choose one main release (nhsbsa_dmd_….zip) and at most one supplementary release (nhsbsa_dmdbonus_….zip)."
        )
    return main[0], bonus[0] if bonus else None


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
