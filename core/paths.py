"""Where RxDesk keeps its data: the platformdirs user data dir, or RXDESK_HOME, or --data-dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "RxDesk"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_RELEASE_DIR = RESOURCES / "demo"


def data_dir(override: Path | str | None = None) -> Path:
    """The data directory (created if needed): ``override``, else $RXDESK_HOME, else the user data dir."""
    if override:
        path = Path(override)
    elif os.environ.get("RXDESK_HOME"):
        path = Path(os.environ["RXDESK_HOME"])
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def replica_path(data: Path) -> Path:
    return data / "dmd.sqlite"


def demo_release() -> tuple[Path, Path | None]:
    """The bundled demo release (main zip, bonus zip or None)."""
    main = sorted(DEMO_RELEASE_DIR.glob("nhsbsa_dmd_*.zip"))
    bonus = sorted(DEMO_RELEASE_DIR.glob("nhsbsa_dmdbonus_*.zip"))
    if not main:
        raise FileNotFoundError(f"The bundled demo release is missing from {DEMO_RELEASE_DIR}.")
    return main[-1], (bonus[-1] if bonus else None)
