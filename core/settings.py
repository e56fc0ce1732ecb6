"""Named settings of this installation, kept as JSON in the app database."""

from __future__ import annotations

import json
import socket
from typing import Any

from sqlalchemy.orm import Session

from core.ids import new_id
from core.storage.database import Database
from core.storage.models import Setting
from core.storage.raw import fetch_one

# Where this installation syncs (sync.connection): None while it stands alone.
SYNC_SERVER_SETTING = "sync_server"


def read_setting(session: Session, key: str, default: Any = None) -> Any:
    row = fetch_one(session, "SELECT value FROM setting WHERE key = ?", (key,))
    return default if row is None else json.loads(row[0])


def write_setting(session: Session, key: str, value: Any) -> None:
    row = session.get(Setting, key)
    text = json.dumps(value, sort_keys=True)
    if row is None:
        session.add(Setting(key=key, value=text))
    else:
        row.value = text


def workstation_name(database: Database) -> str:
    """This machine's name in audit events: the host name and a stable id made on first use."""
    with database.transaction() as session:
        stored = read_setting(session, "workstation")
        if stored is None:
            stored = f"{socket.gethostname()[:60]}-{new_id()[-8:]}"
            write_setting(session, "workstation", stored)
    return str(stored)
