"""The weekly catalogue update as a signed-in admin runs it from the app: newest TRUD release, installed and audited.

The TRUD key comes from the OS keyring; downloads and the build report through one progress callback
``(stage, done, total)``, the shape the GUI's operations and ``core.dmd.build`` share.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.catalogue_install import install_release
from core.context import ServiceContext
from core.dmd.build import Progress
from core.dmd.catalogue import Catalogue
from core.paths import replica_path
from core.users.roles import Permission, require
from sync.secrets import get_trud_key
from sync.trud import DEFAULT_BASE_URL, DEFAULT_POLICY, NetworkPolicy, TrudError, UpdateOutcome, update_catalogue

DOWNLOADING = "Downloading the dm+d release from TRUD"


def installed_release_sha256(data: Path) -> str | None:
    """The archive hash of the release the replica was built from (None when there is no replica)."""
    if not replica_path(data).exists():
        return None
    with Catalogue(replica_path(data)) as catalogue:
        return catalogue.release().archive_sha256


def trud_base_url() -> str:
    return os.environ.get("RXDESK_TRUD_URL", DEFAULT_BASE_URL)


def update_from_trud(
    ctx: ServiceContext,
    data: Path,
    progress: Progress | None = None,
    *,
    base_url: str | None = None,
    policy: NetworkPolicy = DEFAULT_POLICY,
) -> UpdateOutcome:
    """Download and install TRUD's newest release unless it is installed already. Raises TrudError (or
    SecretStoreError, DmdError) with a message fit to show; the installed catalogue is untouched then."""
    require(ctx, Permission.MANAGE_CATALOGUE)
    key = get_trud_key()
    if not key:
        raise TrudError("No TRUD API key is stored: enter the key from your TRUD account page first.")

    def downloaded(done: int, total: int) -> None:
        if progress is not None:
            progress(DOWNLOADING, done, total)

    return update_catalogue(
        data,
        key,
        install=lambda main, bonus: install_release(ctx, data, main, bonus, progress),
        installed_sha256=installed_release_sha256(data),
        base_url=base_url or trud_base_url(),
        progress=downloaded,
        policy=policy,
    )
