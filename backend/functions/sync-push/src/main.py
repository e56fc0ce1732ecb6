"""sync-push: the only write path of RxDesk workstations (docs/sync.md in the RxDesk repository).

A signed-in user sends a batch of up to 100 changes queued by a workstation of their team. Each is checked (the
caller's team, the author's role, the table's rules) and applied with the dynamic API key Appwrite gives this
function, together with a ``sync_op`` row named by the change's id: a replay finds that row and is answered as
before, never applied twice. Each change gets its own answer: applied, duplicate, rejected (with the reason) or
conflict (with the server's version of the row).

The batch's rows are read up front in a few queries; the changes are checked in order against them as the changes
before leave them, and staged (``createOperations``) into transactions of at most 100 operations, a change never
split across two. Before a commit the rows the changes update are read again: a row another execution changed
meanwhile (or a commit that conflicts) rolls the transaction back, and its changes are then applied one by one,
each in a transaction of its own, from fresh reads.

Deployed on its own: everything it needs is in this folder (``rules.json`` is generated from RxDesk's tables and
roles by ``python -m sync.server_config``). Nothing personal is logged: only ids, tables and outcomes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from appwrite.services.teams import Teams

RULES: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "rules.json").read_text(encoding="utf-8"))
DB: str = RULES["databaseId"]
TEAM: str = RULES["teamColumn"]
SYNC_OP: str = RULES["syncOpTable"]
TABLES: dict[str, dict[str, Any]] = RULES["tables"]
ROLE_PERMISSIONS: dict[str, set[str]] = {role: set(perms) for role, perms in RULES["roles"].items()}

MAX_OPS = 100
TX_OPERATIONS = 100  # what one Appwrite transaction may stage
TX_ATTEMPTS = 3  # a transaction that meets a concurrent write is tried again from a fresh read
PAGE = 1000
COUNT_LIMIT = 5000  # the most rows a list's total counts
TEAM_ADMIN_ROLES = {"owner", "admin"}  # may register the team's first RxDesk admin
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")
# Fields the server derives itself and never takes from a workstation.
DERIVED = {"prescription_item": {"quantity_supplied"}}
# A value only one row of the team may hold (rules.json "unique") that another row holds already: the row is kept
# without it (the server's answer is a conflict, so the workstation takes that version and shows why). Refusing the
# row instead would refuse everything that hangs on it too: a patient's prescriptions, a user's every change.
DUPLICATE_REASONS = {
    ("patient", "nhs_number"): "Another patient record of the organisation has NHS number {value} (registered at "
    "another workstation first): this one is kept without it. Compare the two records in Patients and keep one.",
    ("user_account", "username"): "Another user of the organisation has the user name {value}: this user signs in "
    "as {kept} from now on.",
    ("token_account", "owner_id"): "That clinic, pharmacy or prescriber has a token account on the server already: "
    "this one is kept apart as {kept}.",
}


class Rejected(Exception):
    """The change breaks a rule: answered as rejected, with this reason."""


@dataclass
class Outcome:
    status: str  # applied | rejected | conflict
    reason: str = ""
    server: dict[str, Any] | None = None

    def answer(self, op_id: str) -> dict[str, Any]:
        return {"id": op_id, "status": self.status, "reason": self.reason, "server": self.server}


def main(context: Any) -> Any:
    req = context.req
    if req.method != "POST":
        return context.res.json({"message": "Send a POST with a batch of changes."}, 405)
    caller = req.headers.get("x-appwrite-user-id")
    key = req.headers.get("x-appwrite-key")
    if not caller or not key:
        return context.res.json({"message": "Sign in first: changes are accepted from signed-in users only."}, 401)
    try:
        body = json.loads(req.body_text or "{}")
    except ValueError:
        return context.res.json({"message": "The body is not JSON."}, 400)
    if not isinstance(body, dict) or not isinstance(body.get("team"), str) or not _ID.match(body["team"]):
        return context.res.json({"message": "Say which team the changes are for."}, 400)
    client = (
        Client()
        .set_endpoint(os.environ["APPWRITE_FUNCTION_API_ENDPOINT"])
        .set_project(os.environ["APPWRITE_FUNCTION_PROJECT_ID"])
        .set_key(key)
    )
    gateway = Gateway(TablesDB(client), Teams(client), body["team"], caller, str(body.get("device") or "")[:100])
    try:
        roles = gateway.caller_roles()
        if roles is None:
            return context.res.json({"message": "You are not a member of this team."}, 403)
        if body.get("summary"):
            tables = body.get("tables")  # the tables the workstation compares (all when not said)
            wanted = [t for t in tables if t in TABLES] if isinstance(tables, list) else list(TABLES)
            return context.res.json(gateway.summary(wanted))
        ops = body.get("ops")
        if not isinstance(ops, list) or len(ops) > MAX_OPS:
            return context.res.json({"message": f"Send a list of at most {MAX_OPS} changes."}, 400)
        results = gateway.push_all(ops, roles)
    except AppwriteException as exc:
        # The database did not answer as it should: nothing is known of the ops not yet answered, so the whole
        # batch is to be sent again (the ones applied will be answered as duplicates).
        context.error(f"sync-push: database error {exc.code} {exc.type}")
        return context.res.json({"message": "The server could not store the changes now; try again."}, 503)
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    context.log(f"sync-push: team {body['team']}: {counts}")
    return context.res.json({"results": results})


class Gateway:
    def __init__(self, tables: TablesDB, teams: Teams | None, team: str, caller: str, device: str) -> None:
        self.tables = tables
        self.teams = teams
        self.team = team
        self.caller = caller
        self.device = device

    # -- who ---------------------------------------------------------------------------------------------------
    def caller_roles(self) -> set[str] | None:
        assert self.teams is not None
        memberships = self.teams.list_memberships(self.team, queries=[Query.equal("userId", [self.caller])])
        for membership in memberships.memberships:
            if membership.userid == self.caller and membership.confirm:
                return set(membership.roles)
        return None

    def _check_author(self, op: dict[str, Any], caller_roles: set[str], rows: RowAccess) -> None:
        table, data = op["table"], op["data"]
        actor_id = op["actor"]
        permissions = TABLES[table]["permissions"]
        needed = permissions.get("*")
        if needed is None:
            status = data.get(TABLES[table]["statusColumn"])
            if status is None:  # an update that leaves the status alone: any of the table's permissions
                needed = sorted({p for perms in permissions.values() for p in perms})
            else:
                needed = permissions.get(status)
                if needed is None:
                    raise Rejected(f"{status!r} is not a status of {table}.")
        actor = rows.get("user_account", actor_id)  # a user created or changed earlier in the batch counts
        if actor is None:
            # The team's first RxDesk admin registers themselves: only a team owner or admin may send that.
            first_admin = table == "user_account" and op["op"] == "create" and op["row"] == actor_id
            if first_admin and data.get("role") == "admin" and caller_roles & TEAM_ADMIN_ROLES:
                return
            raise Rejected("Its author is not a user of this team on the server yet.")
        if actor.get(TEAM) != self.team or not actor.get("active", True):
            raise Rejected("Its author is not an active user of this team.")
        if not set(needed) & ROLE_PERMISSIONS.get(str(actor.get("role")), set()):
            role = str(actor.get("role"))
            raise Rejected(f"{'An' if role[:1] in 'aeiou' else 'A'} {role} may not make this change.")

    # -- a batch -----------------------------------------------------------------------------------------------
    def push_all(self, ops: list[Any], caller_roles: set[str]) -> list[dict[str, Any]]:
        """Answer every op of a batch. The rows the ops need are read up front in a few queries; each op is then
        checked against them as the ops before it leave them, and the changes of up to ``TX_OPERATIONS`` staged
        operations are committed in one transaction. A transaction that fails (a concurrent change) is rolled
        back and its ops are pushed again one by one from fresh reads."""
        results: list[dict[str, Any]] = []
        staged = Staged(self)
        staged.prefetch(ops)
        group: list[tuple[Any, dict[str, Any]]] = []
        for index, op in enumerate(ops):
            mark = staged.mark()
            answer = self._take(op, caller_roles, staged)
            if len(staged.operations) > TX_OPERATIONS:
                staged.undo(mark)
                if not self._flush(staged, group, caller_roles, results):
                    staged = Staged(self)
                    staged.prefetch(ops[index:])
                group = []
                answer = self._take(op, caller_roles, staged)
            group.append((op, answer))
        self._flush(staged, group, caller_roles, results)
        return results

    def _flush(
        self,
        staged: Staged,
        group: list[tuple[Any, dict[str, Any]]],
        caller_roles: set[str],
        results: list[dict[str, Any]],
    ) -> bool:
        """Commit a group's staged operations; False when they had to be pushed one by one instead."""
        if not staged.operations or staged.commit():
            results += [answer for _op, answer in group]
            return True
        results += [self.push(op, caller_roles) for op, _answer in group]
        return False

    def _take(self, op: Any, caller_roles: set[str], staged: Staged) -> dict[str, Any]:
        """One op of a batch, checked against the batch's rows; its writes staged."""
        op_id = op.get("id") if isinstance(op, dict) else None
        if not isinstance(op_id, str) or not _ID.match(op_id):
            return Outcome("rejected", "The change has no valid id.").answer(str(op_id))
        recorded = staged.get(SYNC_OP, op_id)
        if recorded is not None:
            return self._replayed(op_id, recorded, staged)
        mark = staged.mark()
        try:
            _check_shape(op)
            self._check_author(op, caller_roles, staged)
            outcome = self._apply(op, staged)
        except Rejected as exc:
            staged.undo(mark)
            outcome = Outcome("rejected", str(exc), self._server_row(op, staged))
        staged.create(SYNC_OP, op_id, self._sync_op_data(op, outcome.status, outcome.reason))
        return outcome.answer(op_id)

    # -- one op on its own -------------------------------------------------------------------------------------
    def push(self, op: Any, caller_roles: set[str]) -> dict[str, Any]:
        """One op in a transaction of its own, read afresh inside it."""
        op_id = op.get("id") if isinstance(op, dict) else None
        if not isinstance(op_id, str) or not _ID.match(op_id):
            return Outcome("rejected", "The change has no valid id.").answer(str(op_id))
        recorded = self._get(SYNC_OP, op_id)
        if recorded is not None:
            return self._replayed(op_id, recorded, Direct(self, None))
        try:
            _check_shape(op)
            self._check_author(op, caller_roles, Direct(self, None))
        except Rejected as exc:
            return self._record_rejection(op, str(exc))
        for _ in range(TX_ATTEMPTS):
            tx = self.tables.create_transaction(ttl=60).id
            try:
                outcome = self._apply(op, Direct(self, tx))
                data = self._sync_op_data(op, outcome.status, outcome.reason)
                self.tables.create_row(DB, SYNC_OP, op["id"], data, self._perms(), transaction_id=tx)
                self.tables.update_transaction(tx, commit=True)
                return outcome.answer(op_id)
            except Rejected as exc:
                self._rollback(tx)
                return self._record_rejection(op, str(exc))
            except AppwriteException as exc:
                self._rollback(tx)
                if exc.code != 409:
                    raise
                recorded = self._get(SYNC_OP, op_id)
                if recorded is not None:  # the same op, applied meanwhile by a replay
                    return self._replayed(op_id, recorded, Direct(self, None))
        raise AppwriteException("the row kept changing", 503, "transaction_conflict")

    def _replayed(self, op_id: str, recorded: dict[str, Any], rows: RowAccess) -> dict[str, Any]:
        status = recorded.get("status")
        table, row = recorded.get("table_name", ""), recorded.get("row_id", "")
        server = rows.get(table, row) if table in TABLES and row else None
        if status == "applied":
            return {"id": op_id, "status": "duplicate", "reason": "", "server": server}
        return {"id": op_id, "status": status, "reason": recorded.get("reason") or "", "server": server}

    def _server_row(self, op: dict[str, Any], rows: RowAccess) -> dict[str, Any] | None:
        table = op.get("table") if isinstance(op.get("table"), str) else ""
        row = op.get("row") if isinstance(op.get("row"), str) else ""
        return rows.get(table, row) if table in TABLES and row and _ID.match(row) else None

    def _record_rejection(self, op: dict[str, Any], reason: str) -> dict[str, Any]:
        server = self._server_row(op, Direct(self, None))
        data = self._sync_op_data(op, "rejected", reason)
        try:
            self.tables.create_row(DB, SYNC_OP, op["id"], data, self._perms())
        except AppwriteException as exc:
            if exc.code != 409:  # 409: a replay recorded it first
                raise
        return {"id": op["id"], "status": "rejected", "reason": reason, "server": server}

    def _rollback(self, tx: str) -> None:
        with contextlib.suppress(AppwriteException):  # an expired transaction is gone anyway
            self.tables.update_transaction(tx, rollback=True)

    def _sync_op_data(self, op: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
        return {
            TEAM: self.team,
            "table_name": str(op.get("table", ""))[:32],
            "row_id": str(op.get("row", ""))[:36],
            "status": status,
            "reason": reason or None,
            "actor_id": str(op.get("actor", ""))[:36] or None,
            "device": self.device or None,
        }

    def _perms(self) -> list[str]:
        return [f'read("team:{self.team}")']

    def _get(self, table: str, row_id: str, tx: str | None = None) -> dict[str, Any] | None:
        try:
            row = self.tables.get_row(DB, table, row_id, transaction_id=tx)
        except AppwriteException as exc:
            if exc.code == 404:
                return None
            raise
        return {**row.data, "$id": row.id, "$tableId": table, "$updatedAt": row.updatedat}

    # -- applying ----------------------------------------------------------------------------------------------
    def _apply(self, op: dict[str, Any], rows: RowAccess) -> Outcome:
        table, rules = op["table"], TABLES[op["table"]]
        current = rows.get(table, op["row"])
        if current is not None and current.get(TEAM) != self.team:
            raise Rejected("That row belongs to another team.")
        if op["op"] == "create":
            if current is not None:
                return Outcome("applied", "already on the server", current)
            return self._create(op, rules, rows)
        if current is None:
            raise Rejected("There is no such row on the server to change.")
        kind = rules["kind"]
        if kind == "append-only":
            raise Rejected(f"{table} rows are never changed, only added.")
        if kind == "state-machine":
            return self._advance(op, rules, current, rows)
        return self._merge_fields(op, rules, current, rows)

    def _create(self, op: dict[str, Any], rules: dict[str, Any], rows: RowAccess) -> Outcome:
        table, data = op["table"], dict(op["data"])
        missing = [c for c, spec in rules["columns"].items() if spec["required"] and data.get(c) is None]
        if missing:
            raise Rejected(f"Required fields are missing: {', '.join(missing)}.")
        parents = {}
        for column, parent_table in rules["parents"]:
            if data.get(column) is not None:
                parent = rows.get(parent_table, str(data[column]))
                if parent is None or parent.get(TEAM) != self.team:
                    raise Rejected(f"Its {parent_table} ({column}) is not on the server.")
                parents[column] = parent
        if table == "prescription" and _rank(table, data.get("status")) < _rank(table, "signed"):
            raise Rejected("Only signed prescriptions are shared.")
        if table == "ledger_entry":
            self._check_debit(data, rows)
        duplicates = self._free_unique(table, rules, op["row"], data, rows)
        data[TEAM] = self.team
        # A supply's conflict names the item or the prescription; the line itself is kept: it happened.
        conflict = self._supply(data, parents["item_id"], rows) if table == "dispensing_line" else None
        server = rows.create(table, op["row"], data)
        if duplicates:
            return Outcome("conflict", " ".join(duplicates), server)
        return conflict or Outcome("applied", "", server)

    def _free_unique(
        self, table: str, rules: dict[str, Any], row_id: str, data: dict[str, Any], rows: RowAccess
    ) -> list[str]:
        """A new row's values of unique columns (an NHS number, a user name) that another row of the team holds are
        set aside: emptied, or made its own where the column may not be empty. Why, for each."""
        reasons = []
        for column in rules.get("unique", ()):
            value = data.get(column)
            if value is None or not _held_elsewhere(rows.where(table, column, value), row_id):
                continue
            kept = f"{value}~{row_id[-6:]}" if rules["columns"][column]["required"] else None
            data[column] = kept
            why = DUPLICATE_REASONS.get((table, column), "Another {table} of the organisation has that {column}.")
            reasons.append(why.format(table=table, column=column, value=value, kept=kept))
        return reasons

    def _check_debit(self, data: dict[str, Any], rows: RowAccess) -> None:
        prescription_id = data.get("prescription_id")
        prescription = rows.get("prescription", str(prescription_id)) if prescription_id else None
        if prescription is None or prescription.get(TEAM) != self.team:
            raise Rejected("A debit is for a signed prescription of the team that is on the server.")
        if _rank("prescription", prescription.get("status")) < _rank("prescription", "signed"):
            raise Rejected("A debit is for a signed prescription.")
        if rows.where("ledger_entry", "prescription_id", prescription_id):
            raise Rejected("That prescription has been debited already.")

    def _supply(self, line: dict[str, Any], item: dict[str, Any], rows: RowAccess) -> Outcome | None:
        """A dispensing line adds to its item's supplied quantity (the server's, from every workstation); a
        conflict when that over-supplies the item or supplies a prescription finished elsewhere."""
        quantity = _decimal(line.get("quantity"))
        if quantity is None or quantity <= 0:
            raise Rejected("A dispensing line supplies a quantity above zero.")
        supplied = quantity
        for earlier in rows.where("dispensing_line", "item_id", item["$id"]):
            supplied += _decimal(earlier.get("quantity")) or Decimal(0)
        prescribed = _decimal(item.get("quantity")) or Decimal(0)
        changes: dict[str, Any] = {"quantity_supplied": _text(supplied)}
        if supplied >= prescribed and _rank("prescription_item", "supplied") > _rank(
            "prescription_item", item.get("status")
        ):
            changes["status"] = "supplied"
        rows.update("prescription_item", item["$id"], changes)
        outcome = None
        if supplied > prescribed:
            outcome = Outcome(
                "conflict",
                f"Over-supplied: {_text(prescribed)} prescribed, {_text(supplied)} supplied across workstations.",
                {**item, **changes},
            )
        prescription = rows.get("prescription", str(item.get("prescription_id")))
        if prescription is not None and prescription.get("status") in ("cancelled", "expired"):
            outcome = Outcome(
                "conflict",
                f"Supplied although the prescription was {prescription['status']} at another workstation.",
                prescription,
            )
        self._settle_prescription(str(item.get("prescription_id")), {item["$id"]: changes.get("status")}, rows)
        return outcome

    def _settle_prescription(self, prescription_id: str, just_changed: dict[str, str | None], rows: RowAccess) -> None:
        """Every item supplied or finished, at least one supplied: the prescription is dispensed (forward only)."""
        prescription = rows.get("prescription", prescription_id)
        if prescription is None or _rank("prescription", prescription.get("status")) >= _rank(
            "prescription", "dispensed"
        ):
            return
        items = rows.where("prescription_item", "prescription_id", prescription_id)
        statuses = [just_changed.get(i["$id"]) or i.get("status") for i in items]
        final = _rank("prescription_item", "supplied")
        if statuses and all(_rank("prescription_item", s) >= final for s in statuses) and "supplied" in statuses:
            rows.update("prescription", prescription_id, {"status": "dispensed"})

    def _advance(self, op: dict[str, Any], rules: dict[str, Any], current: dict[str, Any], rows: RowAccess) -> Outcome:
        """A state machine's update: the status moves forward only; its other fields go with the status."""
        table, data = op["table"], op["data"]
        status_column = rules["statusColumn"]
        wanted = data.get(status_column, current.get(status_column))
        if wanted not in rules["statusRanks"]:
            raise Rejected(f"{wanted!r} is not a status of {table}.")
        have = current.get(status_column)
        changes = {k: v for k, v in data.items() if k not in DERIVED.get(table, set())}
        if _rank(table, wanted) < _rank(table, have) or (wanted != have and _rank(table, wanted) == _rank(table, have)):
            if _rank(table, wanted) == _rank(table, have) or _final(table, wanted):
                return Outcome(
                    "conflict",
                    f"It is {have} on the server already (made so at another workstation first).",
                    current,
                )
            return Outcome("applied", f"already {have} on the server", current)
        changes = {k: v for k, v in changes.items() if current.get(k) != v}
        if changes:
            rows.update(table, op["row"], changes)
        if table == "prescription_item" and status_column in changes:
            self._settle_prescription(str(current.get("prescription_id")), {op["row"]: wanted}, rows)
        return Outcome("applied", "", {**current, **changes})

    def _merge_fields(
        self, op: dict[str, Any], rules: dict[str, Any], current: dict[str, Any], rows: RowAccess
    ) -> Outcome:
        """A record's update, field by field: a field another workstation changed since keeps the server's value."""
        data, base = op["data"], op.get("base") or {}
        changes, lost = {}, []
        for column, value in data.items():
            if current.get(column) == value:
                continue
            if column in base and current.get(column) != base[column]:
                lost.append(column)  # changed on the server since this workstation last saw it
            else:
                changes[column] = value
        duplicates = []
        for column in rules.get("unique", ()):
            value = changes.get(column)
            if value is not None and _held_elsewhere(rows.where(op["table"], column, value), op["row"]):
                del changes[column]  # the value stays as the server has it
                duplicates.append(f"Another {op['table']} of the organisation has that {column}: kept as it was.")
        if changes:
            rows.update(op["table"], op["row"], changes)
        if lost or duplicates:
            server = {**current, **changes}
            why = [f"Changed at another workstation first: {', '.join(sorted(lost))} kept as the server has it."]
            return Outcome("conflict", " ".join((why if lost else []) + duplicates), server)
        return Outcome("applied", "", {**current, **changes})

    # -- reading -----------------------------------------------------------------------------------------------
    def rows(
        self, table: str, queries: list[str], tx: str | None = None, select: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """The team's rows of ``table`` that match ``queries``, every page."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = [*queries, Query.equal(TEAM, [self.team]), Query.order_asc("$id"), Query.limit(PAGE)]
            if select is not None:
                page.append(Query.select(["$id", *select]))
            if cursor is not None:
                page.append(Query.cursor_after(cursor))
            result = self.tables.list_rows(DB, table, page, transaction_id=tx)
            rows += [{**r.data, "$id": r.id, "$tableId": table, "$updatedAt": r.updatedat} for r in result.rows]
            if len(result.rows) < PAGE:
                return rows
            cursor = result.rows[-1].id

    def rows_by_id(self, table: str, ids: list[str]) -> list[dict[str, Any]]:
        """The rows of ``table`` with these ids (at most 100), whatever their team."""
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = [Query.equal("$id", ids), Query.order_asc("$id"), Query.limit(PAGE)]
            if cursor is not None:
                page.append(Query.cursor_after(cursor))
            result = self.tables.list_rows(DB, table, page)
            rows += [{**r.data, "$id": r.id, "$tableId": table, "$updatedAt": r.updatedat} for r in result.rows]
            if len(result.rows) < PAGE:
                return rows
            cursor = result.rows[-1].id

    def summary(self, tables: list[str] | None = None) -> dict[str, Any]:
        """Rows of the team per table (of these tables), and a hash of its token ledger: what a workstation checks
        itself against."""
        counts = {}
        for table in TABLES if tables is None else tables:
            # Appwrite counts up to 5,000 rows for a page's total: beyond that, every page is read.
            first = self.tables.list_rows(DB, table, [Query.equal(TEAM, [self.team]), Query.limit(1)])
            total = int(first.total)
            counts[table] = total if total < COUNT_LIMIT else len(self.rows(table, [], select=[]))
        ledger = self.rows("ledger_entry", [], select=["amount"])
        lines = sorted(f"{row['$id']}:{row.get('amount')}" for row in ledger)
        return {"counts": counts, "ledgerHash": hashlib.sha256("\n".join(lines).encode()).hexdigest()}


class RowAccess:
    """How an op's checks read and write rows: ``Direct`` inside a transaction of its own, ``Staged`` against
    the rows of a batch read up front, its writes staged for a transaction of the batch."""

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def where(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        """The team's rows of ``table`` whose ``column`` is ``value``."""
        raise NotImplementedError

    def create(self, table: str, row_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Write a new row; the server's version of it as far as known."""
        raise NotImplementedError

    def update(self, table: str, row_id: str, changes: dict[str, Any]) -> None:
        raise NotImplementedError


class Direct(RowAccess):
    def __init__(self, gateway: Gateway, tx: str | None) -> None:
        self.gateway = gateway
        self.tx = tx

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        return self.gateway._get(table, row_id, self.tx)

    def where(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        return self.gateway.rows(table, [Query.equal(column, [value])], self.tx)

    def create(self, table: str, row_id: str, data: dict[str, Any]) -> dict[str, Any]:
        gateway = self.gateway
        created = gateway.tables.create_row(DB, table, row_id, data, gateway._perms(), transaction_id=self.tx)
        return {**data, "$id": row_id, "$tableId": table, "$updatedAt": created.updatedat}

    def update(self, table: str, row_id: str, changes: dict[str, Any]) -> None:
        self.gateway.tables.update_row(DB, table, row_id, changes, transaction_id=self.tx)


class Staged(RowAccess):
    """A batch's rows: read up front in a few queries (``prefetch``; a row not read then is read when asked
    for), as the batch's writes so far leave them; the writes are staged until ``commit``."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.known: dict[str, dict[str, dict[str, Any] | None]] = {}  # table -> id -> row as read (None: absent)
        self.complete: dict[tuple[str, str], dict[Any, list[str]]] = {}  # (table, column) -> value -> ids, as read
        self.written: dict[str, dict[str, dict[str, Any]]] = {}  # table -> id -> row as the batch leaves it
        self.operations: list[dict[str, Any]] = []  # staged, not yet committed
        self.expected: dict[tuple[str, str], dict[str, Any]] = {}  # rows updated: as they must still be at commit
        self._journal: list[tuple[str, str, dict[str, Any] | None]] = []  # (table, id, written before) for undo

    # -- reading up front --------------------------------------------------------------------------------------
    def prefetch(self, ops: list[Any]) -> None:
        """Everything the ops are likely to read, in one query per table and kind of lookup (and a second round
        for what depends on the first)."""
        ops = [op for op in ops if isinstance(op, dict) and isinstance(op.get("data"), dict)]
        by_id: dict[str, set[str]] = {SYNC_OP: set(), "user_account": set()}
        by_value: dict[tuple[str, str], set[Any]] = {}
        created: dict[str, set[str]] = {}

        def want(table: str, row_id: Any) -> None:
            if isinstance(row_id, str) and _ID.match(row_id):
                by_id.setdefault(table, set()).add(row_id)

        def want_where(table: str, column: str, value: Any) -> None:
            if isinstance(value, str | int) and not isinstance(value, bool):
                by_value.setdefault((table, column), set()).add(value)

        for op in ops:
            table, data = op.get("table"), op["data"]
            want(SYNC_OP, op.get("id"))
            want("user_account", op.get("actor"))
            if table not in TABLES:
                continue
            rules = TABLES[table]
            if op.get("op") == "create" and isinstance(op.get("row"), str):
                created.setdefault(table, set()).add(op["row"])
            else:
                want(table, op.get("row"))
            for column, parent_table in rules["parents"]:
                want(parent_table, data.get(column))
            for column in rules.get("unique", ()):
                want_where(table, column, data.get(column))
            if table == "ledger_entry":
                want("prescription", data.get("prescription_id"))
                want_where("ledger_entry", "prescription_id", data.get("prescription_id"))
            if table == "dispensing_line":
                want_where("dispensing_line", "item_id", data.get("item_id"))
        self._read(by_id, by_value)
        # A row a change creates is taken to be new (the sync_op row and the row are written together, so a
        # change not yet recorded has not written it): if it is there after all, the commit fails on it and the
        # changes are applied one by one.
        for table, ids in created.items():
            known = self.known.setdefault(table, {})
            for row_id in ids:
                known.setdefault(row_id, None)
        # What hangs on the items: their prescriptions and the prescriptions' items.
        second: dict[str, set[str]] = {}
        prescriptions = {
            str(item["prescription_id"])
            for item in self.known.get("prescription_item", {}).values()
            if item is not None and item.get("prescription_id") is not None
        }
        prescriptions |= {
            str(op["data"]["prescription_id"])
            for op in ops
            if op.get("table") == "prescription_item" and op["data"].get("prescription_id") is not None
        }
        second["prescription"] = {p for p in prescriptions if p not in self.known.get("prescription", {})}
        self._read(second, {("prescription_item", "prescription_id"): prescriptions})

    def _read(self, by_id: dict[str, set[str]], by_value: dict[tuple[str, str], set[Any]]) -> None:
        for table, ids in by_id.items():
            wanted = sorted(i for i in ids if i not in self.known.get(table, {}))
            for start in range(0, len(wanted), MAX_OPS):
                chunk = wanted[start : start + MAX_OPS]
                known = self.known.setdefault(table, {})
                known.update(dict.fromkeys(chunk))
                for row in self.gateway.rows_by_id(table, chunk):
                    known[row["$id"]] = row
        for (table, column), values in by_value.items():
            wanted_values = sorted(values, key=str)
            for start in range(0, len(wanted_values), MAX_OPS):
                chunk = wanted_values[start : start + MAX_OPS]
                lists = self.complete.setdefault((table, column), {})
                for value in chunk:
                    lists[value] = []
                for row in self.gateway.rows(table, [Query.equal(column, chunk)]):
                    self.known.setdefault(table, {})[row["$id"]] = row
                    if row.get(column) in lists:
                        lists[row.get(column)].append(row["$id"])

    # -- RowAccess ---------------------------------------------------------------------------------------------
    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        written = self.written.get(table, {}).get(row_id)
        if written is not None:
            return written
        known = self.known.setdefault(table, {})
        if row_id not in known:
            known[row_id] = self.gateway._get(table, row_id)
        return known[row_id]

    def where(self, table: str, column: str, value: Any) -> list[dict[str, Any]]:
        ids = self.complete.get((table, column), {}).get(value)
        if ids is not None:
            found = {i: self.known[table][i] for i in ids}
        else:
            found = {row["$id"]: row for row in self.gateway.rows(table, [Query.equal(column, [value])])}
        for row_id, row in self.written.get(table, {}).items():
            if row.get(column) == value:
                found[row_id] = row
            else:
                found.pop(row_id, None)
        return [row for row in found.values() if row is not None]

    def create(self, table: str, row_id: str, data: dict[str, Any]) -> dict[str, Any]:
        row = {**data, "$id": row_id, "$tableId": table}  # its $updatedAt is the commit's, not known here
        self._write(table, row_id, row)
        operation_data = {**data, "$permissions": self.gateway._perms()}
        self.operations.append(_operation("create", table, row_id, operation_data))
        return row

    def update(self, table: str, row_id: str, changes: dict[str, Any]) -> None:
        before = self.get(table, row_id)
        assert before is not None, "an update follows a read of the row"
        created_here = any(o["action"] == "create" and (o["tableId"], o["rowId"]) == (table, row_id)
                           for o in self.operations)  # fmt: skip
        if not created_here:
            self.expected.setdefault((table, row_id), before)
        self._write(table, row_id, {**before, **changes})
        self.operations.append(_operation("update", table, row_id, dict(changes)))

    def _write(self, table: str, row_id: str, row: dict[str, Any]) -> None:
        self._journal.append((table, row_id, self.written.get(table, {}).get(row_id)))
        self.written.setdefault(table, {})[row_id] = row

    # -- staging and committing --------------------------------------------------------------------------------
    def mark(self) -> tuple[int, int, frozenset[tuple[str, str]]]:
        return len(self.operations), len(self._journal), frozenset(self.expected)

    def undo(self, mark: tuple[int, int, frozenset[tuple[str, str]]]) -> None:
        """Forget what was staged since ``mark``."""
        operations, journal, expected = mark
        del self.operations[operations:]
        while len(self._journal) > journal:
            table, row_id, before = self._journal.pop()
            if before is None:
                del self.written[table][row_id]
            else:
                self.written[table][row_id] = before
        for key in set(self.expected) - expected:
            del self.expected[key]

    def commit(self) -> bool:
        """Commit what is staged in one transaction; False (rolled back, nothing written) when a row it read
        changed meanwhile or the transaction conflicted. The rows as written stay known either way."""
        tables, gateway = self.gateway.tables, self.gateway
        tx = tables.create_transaction(ttl=60).id
        try:
            tables.create_operations(tx, self.operations)
            if not self._unchanged():
                gateway._rollback(tx)
                return False
            tables.update_transaction(tx, commit=True)
        except AppwriteException as exc:
            gateway._rollback(tx)
            if exc.code != 409:
                raise
            return False
        finally:
            self.operations = []
            self._journal = []
            self.expected = {}
        return True

    def _unchanged(self) -> bool:
        """Whether the rows the staged updates rest on are still as read (read again after staging: a change
        from then on fails the commit itself)."""
        by_table: dict[str, list[str]] = {}
        for table, row_id in self.expected:
            by_table.setdefault(table, []).append(row_id)
        for table, ids in by_table.items():
            columns = [*TABLES[table]["columns"], TEAM]
            for start in range(0, len(ids), MAX_OPS):
                for row in self.gateway.rows_by_id(table, ids[start : start + MAX_OPS]):
                    expected = self.expected[(table, row["$id"])]
                    if any(row.get(c) != expected.get(c) for c in columns):
                        return False
        return True


def _operation(action: str, table: str, row_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "databaseId": DB, "tableId": table, "rowId": row_id, "data": data}


def _held_elsewhere(holders: list[dict[str, Any]], row_id: str) -> bool:
    return any(row["$id"] != row_id for row in holders)


def _check_shape(op: dict[str, Any]) -> None:
    table = op.get("table")
    if table not in TABLES:
        raise Rejected(f"{table!r} is not a table that syncs.")
    if op.get("op") not in ("create", "update"):
        raise Rejected("A change is a create or an update.")
    if not isinstance(op.get("row"), str) or not _ID.match(op["row"]):
        raise Rejected("The row id is not valid.")
    if not isinstance(op.get("actor"), str) or not _ID.match(op["actor"]):
        raise Rejected("The change does not say who made it.")
    data, base = op.get("data"), op.get("base")
    if not isinstance(data, dict) or (base is not None and not isinstance(base, dict)):
        raise Rejected("The change's data is not an object.")
    columns = TABLES[table]["columns"]
    unknown = sorted(set(data) - set(columns))
    if unknown:
        raise Rejected(f"Unknown fields: {', '.join(unknown)}.")
    for column, value in data.items():
        _check_value(column, columns[column], value)
    if table == "ledger_entry" and (data.get("kind") != "debit" or not isinstance(data.get("amount"), int)
                                    or data["amount"] >= 0):  # fmt: skip
        raise Rejected("Workstations only debit tokens; credits come from payments.")


def _check_value(column: str, spec: dict[str, Any], value: Any) -> None:
    if value is None:
        if spec["required"]:
            raise Rejected(f"{column} is required.")
        return
    kind = spec["type"]
    ok = {
        "varchar": lambda v: isinstance(v, str) and len(v) <= spec["size"],
        "text": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }[kind](value)
    if not ok:
        raise Rejected(f"{column} is not a valid {kind}.")


def _rank(table: str, status: Any) -> int:
    ranks: dict[str, int] = TABLES[table]["statusRanks"]
    return ranks.get(str(status), -1)


def _final(table: str, status: Any) -> bool:
    return _rank(table, status) == max(TABLES[table]["statusRanks"].values())


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")
