"""Record ids made on the client: UUIDv7 as 32 hex characters (time-ordered; valid Appwrite ids, DESIGN.md §3)."""

from __future__ import annotations

import re

import uuid_utils

_ID = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    return str(uuid_utils.uuid7().hex)


def is_id(text: str) -> bool:
    return bool(_ID.fullmatch(text))
