"""Workstations of one organisation syncing through the Appwrite stand-in: the server, its team and accounts, and
devices made the way a real installation is (a clinic set up on one, a pharmacy workstation joining later)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appwrite.services.tables_db import TablesDB
from sqlalchemy import select

from core.context import ServiceContext
from core.storage.database import Database, open_database
from core.storage.models import OutboxEntry
from core.users.roles import Role
from core.users.service import NewUser, create_first_admin, sign_in
from sync.connection import sign_in as server_sign_in
from sync.engine import SyncEngine, SyncReport, SyncState
from sync.server_config import DATABASE_ID
from sync.tables import SYNC_TABLES
from tests.clinic import PASSWORD, TestClock
from tests.fakes.appwrite import BACKEND_CONFIG, AppwriteStandin

ACCOUNT_PASSWORD = "server-password-1"


@dataclass
class Device:
    name: str
    database: Database
    clock: TestClock
    engine: SyncEngine

    def sync(self) -> SyncReport:
        report = self.engine.sync_now()
        assert report is not None, f"{self.name}: {self.engine.status.state}: {self.engine.status.detail}"
        assert self.engine.status.state is SyncState.UP_TO_DATE
        return report

    def pending(self) -> int:
        with self.database.reader() as session:
            return len(session.execute(select(OutboxEntry.id).where(OutboxEntry.state == "pending")).all())

    def sign_in(self, username: str, password: str = PASSWORD) -> ServiceContext:
        return sign_in(self.database, username, password, self.name, self.clock)

    def rows(self, table: str) -> dict[str, dict[str, Any]]:
        """The synced columns of every row of a table, as the server would hold them."""
        from sync.tables import SYNC_TABLES_BY_NAME
        from sync.values import server_fields

        spec = SYNC_TABLES_BY_NAME[table]
        with self.database.reader() as session:
            rows = session.execute(select(spec.model_table)).mappings().all()
        return {str(r["id"]): server_fields(spec, dict(r)) for r in rows}


@dataclass
class SyncWorld:
    server: AppwriteStandin
    team: str
    api_key: str
    tmp: Path
    devices: list[Device] = field(default_factory=list)

    def account(self, email: str, roles: tuple[str, ...] = ("admin",)) -> str:
        user_id = self.server.create_user(email, ACCOUNT_PASSWORD)
        self.server.add_membership(self.team, user_id, list(roles))
        return user_id

    def device(self, name: str, database: Database | None = None, clock: TestClock | None = None) -> Device:
        """A workstation: ``database`` set up already (a clinic), or a new installation with its own first admin."""
        clock = clock or TestClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
        if database is None:
            database = open_database(self.tmp / name / "rxdesk.sqlite")
            create_first_admin(database, NewUser(f"{name}-admin", f"Admin of {name}", Role.ADMIN, PASSWORD), name)
        email = f"{name}@example.org"
        self.account(email)
        server_sign_in(database, self.server.endpoint, self.server.project_id, email, ACCOUNT_PASSWORD, team=self.team)
        device = Device(name, database, clock, SyncEngine(database, clock=clock))
        self.devices.append(device)
        return device

    def server_rows(self, table: str) -> dict[str, dict[str, Any]]:
        """The server's rows in canonical form (a datetime written by a function in another format compares equal)."""
        from sync.tables import SYNC_TABLES_BY_NAME
        from sync.values import local_fields, server_fields

        spec = SYNC_TABLES_BY_NAME[table]
        return {
            str(row["$id"]): server_fields(spec, local_fields(spec, row))
            for row in self.server.rows(DATABASE_ID, table)
        }

    def tables(self) -> TablesDB:
        return TablesDB(self.server.client(key=self.api_key))

    def credit_on_server(
        self, account_id: str, amount: int, entry_id: str, when: str = "2026-03-02T09:00:00.000000+00:00"
    ) -> None:
        """A credit as the billing function writes it (workstations may not write credits)."""
        self.tables().create_row(
            DATABASE_ID,
            "ledger_entry",
            entry_id,
            {
                "team_id": self.team,
                "account_id": account_id,
                "kind": "credit",
                "amount": amount,
                "description": "Top-up",
                "prescription_id": None,
                "corrects_id": None,
                "created_by": None,
                "created_at": when,
            },
            [f'read("team:{self.team}")'],
        )

    def diverged(self) -> list[str]:
        """Where a device disagrees with the server after sync (rows a device has that the server refused are in
        its inbox, and count as known, not as divergence)."""
        problems = []
        for table in SYNC_TABLES:
            if not table.pull:
                continue
            server = self.server_rows(table.name)
            for device in self.devices:
                local = device.rows(table.name)
                for row_id, data in server.items():
                    if row_id not in local:
                        problems.append(f"{device.name}: {table.name} {row_id} missing")
                    elif {k: local[row_id].get(k) for k in data} != data:
                        differing = sorted(k for k in data if local[row_id].get(k) != data[k])
                        problems.append(f"{device.name}: {table.name} {row_id} differs in {differing}")
        return problems


def load_backend(server: AppwriteStandin) -> None:
    server.load_config(BACKEND_CONFIG)


def world(server: AppwriteStandin, tmp: Path) -> SyncWorld:
    load_backend(server)
    team = server.create_team("Riverside Health")
    return SyncWorld(server, team, server.create_api_key(), tmp)


def dumps(rows: Iterator[Any]) -> str:
    return json.dumps(list(rows), default=str)
