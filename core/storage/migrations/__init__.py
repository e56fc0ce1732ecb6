"""Alembic migrations of the app database, run from code (no alembic.ini): every schema change is one here.

Alembic is loaded only when a database needs upgrading: importing it takes about 0.2 s, which every start of the
app would otherwise wait for before its first window. ``HEAD_REVISION`` names the newest migration (a test keeps it
equal to Alembic's head).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent
HEAD_REVISION = "0005"


class NewerDatabaseError(Exception):
    """The database carries a revision this version of RxDesk does not have."""


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, read with plain SQL; None for a new or unversioned file."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except OperationalError:  # no such table: a new database
            return None
    return rows[0] if len(rows) == 1 else None


def upgrade_to_head(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and stored_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        command.upgrade(alembic_config(engine), revision)
    except CommandError as exc:  # a revision this version does not know
        raise NewerDatabaseError(str(exc)) from exc


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
