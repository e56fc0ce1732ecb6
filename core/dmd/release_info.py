"""What the replica records about the release it was built from."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ReleaseInfo:
    name: str  # archive (or folder) name, e.g. nhsbsa_dmd_11.1.0_20251110000001
    release_date: str | None  # ISO date from the file names
    version: str | None
    archive_sha256: str
    schema_version: int
    built_at: str  # ISO timestamp (UTC)
    bonus_name: str | None = None
    bonus_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def write_release_info(conn: sqlite3.Connection, info: ReleaseInfo) -> None:
    conn.executemany(
        "INSERT INTO release_meta (key, value) VALUES (?, ?)",
        [(k, None if v is None else str(v)) for k, v in info.as_dict().items()],
    )
    conn.execute(f"PRAGMA user_version = {int(info.schema_version)}")


def read_release_info(conn: sqlite3.Connection) -> ReleaseInfo:
    values = dict(conn.execute("SELECT key, value FROM release_meta").fetchall())
    return ReleaseInfo(
        name=values["name"],
        release_date=values.get("release_date"),
        version=values.get("version"),
        archive_sha256=values["archive_sha256"],
        schema_version=int(values["schema_version"]),
        built_at=values["built_at"],
        bonus_name=values.get("bonus_name"),
        bonus_sha256=values.get("bonus_sha256"),
    )
