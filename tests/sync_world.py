"""Workstations of one organisation syncing through the Appwrite stand-in: the server, its team and accounts, and
devices made the way a real installation is (a clinic set up on one, a pharmacy workstation joining later)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from appwrite.services.tables_db import TablesDB
from sqlalchemy import select

from core.context import ServiceContext
from core.storage.database import Database, open_database
from core.storage.models import OutboxEntry, Prescription, PrescriptionItem, SyncInboxItem, TokenAccount
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

    def outbox(self) -> list[tuple[str, str, str, str]]:
        """(op id, table, row id, state) of every change this device queued."""
        with self.database.reader() as session:
            entries = session.execute(select(OutboxEntry.id, OutboxEntry.table, OutboxEntry.row_id, OutboxEntry.state))
            return [(e[0], e[1], e[2], e[3]) for e in entries]

    def refused(self, table: str) -> set[str]:
        """Rows of the table the server refused to create, as this device's inbox says (dealt with or not)."""
        with self.database.reader() as session:
            rows = session.execute(
                select(SyncInboxItem.row_id)
                .join(OutboxEntry, OutboxEntry.id == SyncInboxItem.outbox_id)
                .where(SyncInboxItem.table == table, SyncInboxItem.kind == "rejected")
                .where(OutboxEntry.operation == "create")
            )
            return {str(r[0]) for r in rows}

    def unshared(self, table: str) -> set[str]:
        """Rows never meant for the server: drafts (only signed prescriptions are shared) and their items."""
        if table not in ("prescription", "prescription_item"):
            return set()
        with self.database.reader() as session:
            drafts = select(Prescription.id).where(Prescription.status == "draft")
            if table == "prescription":
                return {str(r) for r in session.execute(drafts).scalars()}
            items = select(PrescriptionItem.id).where(PrescriptionItem.prescription_id.in_(drafts))
            return {str(r) for r in session.execute(items).scalars()}

    def confirmed_balances(self) -> dict[str, int]:
        with self.database.reader() as session:
            return {str(a.id): int(a.confirmed_balance) for a in session.execute(select(TokenAccount)).scalars()}

    def rows(self, table: str) -> dict[str, dict[str, Any]]:
        """The synced columns of every row of a table, as the server would hold them."""
        from sync.tables import SYNC_TABLES_BY_NAME
        from sync.values import server_fields

        spec = SYNC_TABLES_BY_NAME[table]
        with self.database.reader() as session:
            rows = session.execute(select(spec.model_table)).mappings().all()
        return {str(r["id"]): server_fields(spec, dict(r)) for r in rows}


@dataclass(frozen=True)
class Tally:
    """What the chaos harness counts after the final sync (each a list of what went wrong, or a number)."""

    lost: list[str]
    duplicated: list[str]
    stalled: int
    diverged: list[str]

    def counts(self) -> dict[str, int]:
        return {"lost": len(self.lost), "duplicated": len(self.duplicated), "stalled": self.stalled,
                "diverged": len(self.diverged)}  # fmt: skip

    def clean(self) -> bool:
        return not any(self.counts().values())


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

    def user_of(self, device: Device) -> str:
        """The server account the device signed in as."""
        email = f"{device.name}@example.org"
        with self.server.state.lock:
            return next(u.id for u in self.server.state.users.values() if u.email == email)

    def sign_in_again(self, device: Device) -> None:
        """The device's user signs in to the server again (a session that ended), as the sync panel lets them."""
        email = f"{device.name}@example.org"
        server_sign_in(device.database, self.server.endpoint, self.server.project_id, email, ACCOUNT_PASSWORD,
                       team=self.team)  # fmt: skip
        device.engine.refresh_status()

    def settle(self, max_rounds: int = 6) -> int:
        """Every device syncs, round after round, until a whole round sends nothing (so each has taken what the
        others sent last); the number of rounds. Raises if a sync fails or it never goes quiet."""
        for round_no in range(1, max_rounds + 1):
            sent = 0
            for device in self.devices:
                sent += sum(device.sync().pushed.values())
            if sent == 0:
                return round_no
        raise AssertionError(f"still sending after {max_rounds} rounds of sync")

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
        """Where a device disagrees with the server after sync: a server row it lacks or holds otherwise, a row it
        holds that the server lacks (unless the server refused that row and the device's inbox says so: known, not
        divergence), or a token account whose confirmed balance is not the server's ledger sum."""
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
                refused = device.refused(table.name)
                for row_id in sorted(set(local) - set(server) - refused - device.unshared(table.name)):
                    problems.append(f"{device.name}: {table.name} {row_id} not on the server and not refused")
        sums = self.ledger_sums()
        for device in self.devices:
            for account_id, confirmed in device.confirmed_balances().items():
                if confirmed != sums.get(account_id, 0):
                    problems.append(
                        f"{device.name}: account {account_id} confirmed {confirmed}, server {sums.get(account_id, 0)}"
                    )
        return problems

    def ledger_sums(self) -> dict[str, int]:
        sums: dict[str, int] = {}
        for row in self.server.rows(DATABASE_ID, "ledger_entry"):
            sums[row["account_id"]] = sums.get(row["account_id"], 0) + int(row["amount"])
        return sums

    def lost(self) -> list[str]:
        """Committed local changes the server does not have: a row of a device (audit events too) missing on the
        server though not refused, or a change the device holds as answered that the server has no record of."""
        problems = []
        recorded = {str(r["$id"]): r for r in self.server.rows(DATABASE_ID, "sync_op")}
        for table in SYNC_TABLES:
            server = {str(r["$id"]) for r in self.server.rows(DATABASE_ID, table.name)}
            for device in self.devices:
                for row_id in sorted(
                    set(device.rows(table.name)) - server - device.refused(table.name) - device.unshared(table.name)
                ):
                    problems.append(f"{device.name}: {table.name} {row_id} is not on the server")
        for device in self.devices:
            for entry_id, table_name, row_id, state in device.outbox():
                if state == "pending":
                    continue  # counted as stalled
                op = recorded.get(entry_id)
                if op is None:
                    problems.append(f"{device.name}: {table_name} {row_id} answered {state}, unknown to the server")
                elif (op["table_name"], op["row_id"]) != (table_name, row_id):
                    problems.append(f"{device.name}: op {entry_id} recorded for {op['table_name']} {op['row_id']}")
        return problems

    def duplicated(self) -> list[str]:
        """Changes applied twice: a sync_op row per op (none for an op no device made), each item's supplied
        quantity the sum of its dispensing lines, at most one debit per prescription."""
        problems = []
        ops = [str(r["$id"]) for r in self.server.rows(DATABASE_ID, "sync_op")]
        if len(ops) != len(set(ops)):
            problems.append(f"sync_op holds {len(ops) - len(set(ops))} repeated op ids")
        made = {entry[0] for device in self.devices for entry in device.outbox()}
        problems += [f"sync_op {op} is no device's change" for op in sorted(set(ops) - made)]
        supplied: dict[str, Decimal] = {}
        for line in self.server.rows(DATABASE_ID, "dispensing_line"):
            supplied[line["item_id"]] = supplied.get(line["item_id"], Decimal(0)) + Decimal(str(line["quantity"]))
        for item in self.server.rows(DATABASE_ID, "prescription_item"):
            total = supplied.get(item["$id"], Decimal(0))
            if Decimal(str(item.get("quantity_supplied") or 0)) != total:
                problems.append(f"item {item['$id']}: supplied {item.get('quantity_supplied')}, lines {total}")
        debits: dict[str, int] = {}
        for entry in self.server.rows(DATABASE_ID, "ledger_entry"):
            if entry["kind"] == "debit":
                debits[entry["prescription_id"]] = debits.get(entry["prescription_id"], 0) + 1
        problems += [f"prescription {rx} debited {n} times" for rx, n in sorted(debits.items()) if n > 1]
        return problems

    def stalled(self) -> int:
        return sum(device.pending() for device in self.devices)

    def tally(self) -> Tally:
        return Tally(self.lost(), self.duplicated(), self.stalled(), self.diverged())


def load_backend(server: AppwriteStandin) -> None:
    server.load_config(BACKEND_CONFIG)


def world(server: AppwriteStandin, tmp: Path) -> SyncWorld:
    load_backend(server)
    team = server.create_team("Riverside Health")
    return SyncWorld(server, team, server.create_api_key(), tmp)


def dumps(rows: Iterator[Any]) -> str:
    return json.dumps(list(rows), default=str)
