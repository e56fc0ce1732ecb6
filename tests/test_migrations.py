"""The app database schema: only through migrations, and a database of every released schema upgrades cleanly."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from core.audit.log import verify_chain
from core.errors import RxDeskError
from core.storage.database import open_database
from core.storage.migrations import HEAD_REVISION, alembic_config, current_revision, stored_revision
from core.storage.models import Base
from tests.clinic import Clinic

FIXTURES = Path(__file__).parent / "fixtures"


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_new_database_is_at_head_and_matches_the_models(tmp_path: Path) -> None:
    db = open_database(tmp_path / "rxdesk.sqlite")
    assert current_revision(db.engine) == _head()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.close()


def test_head_revision_constant_is_alembics_head() -> None:
    # open_database skips Alembic when the stored revision is HEAD_REVISION: a new migration must move it too.
    assert _head() == HEAD_REVISION


def test_an_up_to_date_database_opens_without_loading_alembic(tmp_path: Path) -> None:
    open_database(tmp_path / "rxdesk.sqlite").close()
    code = (
        "import sys; from pathlib import Path; from core.storage.database import open_database; "
        f"db = open_database(Path({str(tmp_path / 'rxdesk.sqlite')!r})); "
        "print(db.engine.dialect.name, 'alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["sqlite", "False"]
    db = open_database(tmp_path / "rxdesk.sqlite")
    assert stored_revision(db.engine) == HEAD_REVISION
    db.close()


def test_pragmas_for_durability(tmp_path: Path) -> None:
    db = open_database(tmp_path / "rxdesk.sqlite")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.close()


@pytest.mark.parametrize("revision", ["0001", "0002", "0003"])
def test_database_of_each_released_schema_is_upgraded_on_open(tmp_path: Path, revision: str) -> None:
    path = tmp_path / "rxdesk.sqlite"
    shutil.copy(FIXTURES / f"rxdesk-{revision}.sqlite", path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)
        before = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("prescription", "audit_event")}
    db = open_database(path)
    assert current_revision(db.engine) == _head()
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        for table, count in before.items():
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == count
        indexes = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "ix_audit_event_entity" in indexes
    with db.reader() as session:
        assert verify_chain(session).intact  # the old events still verify after the upgrade
    db.close()


def test_append_only_triggers_survive_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "rxdesk.sqlite"
    shutil.copy(FIXTURES / "rxdesk-0001.sqlite", path)
    open_database(path).close()
    with sqlite3.connect(path) as conn:
        for table in ("audit_event", "ledger_entry"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(f"DELETE FROM {table}")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE ledger_entry SET amount = amount + 1")
        assert conn.execute("UPDATE ledger_entry SET confirmed = 1").rowcount > 0  # 0002: sync may confirm


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "rxdesk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RxDeskError, match="cannot be opened"):
        open_database(path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_readers_neither_wait_for_nor_block_writers(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = open_database(tmp_path / "rxdesk.sqlite")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE scratch (x)"))
    with db.reader() as reader:
        assert reader.execute(text("SELECT count(*) FROM scratch")).scalar() == 0
        with db.transaction() as writer:  # would time out if the reader held the write lock
            writer.execute(text("INSERT INTO scratch VALUES (1)"))
    with db.transaction() as writer:
        writer.execute(text("INSERT INTO scratch VALUES (2)"))
        with db.reader() as reader:  # sees the last commit, not the open write
            assert reader.execute(text("SELECT count(*) FROM scratch")).scalar() == 1
    db.close()


def test_a_database_from_a_newer_rxdesk_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "rxdesk.sqlite"
    open_database(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(RxDeskError, match="newer version of RxDesk"):
        open_database(path)


def test_a_constraint_failure_is_one_clear_error_and_saves_nothing(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = open_database(tmp_path / "rxdesk.sqlite")
    with pytest.raises(RxDeskError, match="Nothing was saved: the change conflicts"), db.transaction() as session:
        session.execute(text("INSERT INTO setting (key, value) VALUES ('a', '1')"))
        session.execute(text("INSERT INTO setting (key, value) VALUES ('a', '2')"))
    with db.reader() as session:
        assert session.execute(text("SELECT count(*) FROM setting WHERE key = 'a'")).scalar() == 0
    db.close()


def test_plain_reads_see_rows_queued_in_the_same_transaction(clinic: Clinic) -> None:
    from core.audit.log import record_event
    from core.storage.raw import fetch_one

    with clinic.database.transaction() as session:
        before = fetch_one(session, "SELECT count(*) FROM audit_event")
        record_event(session, clinic.admin, "test.event", "test", "1")  # queued, not yet written
        after = fetch_one(session, "SELECT count(*) FROM audit_event")
    assert before is not None and after == (before[0] + 1,)
