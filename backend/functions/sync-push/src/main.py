"""sync-push: the only write path of RxDesk workstations (docs/sync.md in the RxDesk repository).

A signed-in user sends a batch of up to 100 changes queued by a workstation of their team. Each is checked (the
caller's team, the author's role, the table's rules) and applied with the dynamic API key Appwrite gives this
function, together with a ``sync_op`` row named by the change's id, in one Appwrite transaction: a replay finds
that row and is answered as before, never applied twice. Each change gets its own answer: applied, duplicate,
rejected (with the reason) or conflict (with the server's version of the row).

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
TX_ATTEMPTS = 3  # a transaction that meets a concurrent write is tried again from a fresh read
PAGE = 1000
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


class Retry(Exception):
    """A transaction met a concurrent change: try the op again."""


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
            return context.res.json(gateway.summary())
        ops = body.get("ops")
        if not isinstance(ops, list) or len(ops) > MAX_OPS:
            return context.res.json({"message": f"Send a list of at most {MAX_OPS} changes."}, 400)
        gateway.read_recorded(ops)
        results = [gateway.push(op, roles) for op in ops]
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
    def __init__(self, tables: TablesDB, teams: Teams, team: str, caller: str, device: str) -> None:
        self.tables = tables
        self.teams = teams
        self.team = team
        self.caller = caller
        self.device = device
        self._actors: dict[str, dict[str, Any] | None] = {}
        # The sync_op rows of the batch's op ids as read once for the batch (None: not recorded), kept up to date
        # with what this execution records; an id missing here is looked up on its own.
        self._recorded: dict[str, dict[str, Any] | None] = {}

    # -- who ---------------------------------------------------------------------------------------------------
    def caller_roles(self) -> set[str] | None:
        memberships = self.teams.list_memberships(self.team, queries=[Query.equal("userId", [self.caller])])
        for membership in memberships.memberships:
            if membership.userid == self.caller and membership.confirm:
                return set(membership.roles)
        return None

    def _actor(self, actor_id: str) -> dict[str, Any] | None:
        """The author's user row; cached for the batch once found (a user created earlier in it counts)."""
        if self._actors.get(actor_id) is None:
            self._actors[actor_id] = self._get("user_account", actor_id)
        return self._actors[actor_id]

    def _check_author(self, op: dict[str, Any], caller_roles: set[str]) -> None:
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
        actor = self._actor(actor_id)
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

    # -- one op ------------------------------------------------------------------------------------------------
    def read_recorded(self, ops: list[Any]) -> None:
        """The batch's ``sync_op`` rows, read at once (by id, whatever the team, as a lookup of each would)."""
        ids = sorted({op["id"] for op in ops if isinstance(op, dict) and isinstance(op.get("id"), str)
                      and _ID.match(op["id"])})  # fmt: skip
        for start in range(0, len(ids), MAX_OPS):
            chunk = ids[start : start + MAX_OPS]
            self._recorded.update(dict.fromkeys(chunk))
            for row in self._rows_by_id(SYNC_OP, chunk):
                self._recorded[row["$id"]] = row

    def _sync_op(self, op_id: str) -> dict[str, Any] | None:
        if op_id in self._recorded:
            return self._recorded[op_id]
        return self._get(SYNC_OP, op_id)

    def push(self, op: Any, caller_roles: set[str]) -> dict[str, Any]:
        op_id = op.get("id") if isinstance(op, dict) else None
        if not isinstance(op_id, str) or not _ID.match(op_id):
            return Outcome("rejected", "The change has no valid id.").answer(str(op_id))
        recorded = self._sync_op(op_id)
        if recorded is not None:
            return self._replayed(op_id, recorded)
        try:
            _check_shape(op)
            self._check_author(op, caller_roles)
        except Rejected as exc:
            return self._record_rejection(op, str(exc))
        for _ in range(TX_ATTEMPTS):
            tx = self.tables.create_transaction(ttl=60).id
            try:
                outcome = self._apply(op, tx)
                self._stage_sync_op(tx, op, outcome)
                self.tables.update_transaction(tx, commit=True)
                self._recorded[op_id] = self._sync_op_data(op, outcome.status, outcome.reason)
                if op["table"] == "user_account":
                    self._actors.pop(op["row"], None)  # a role or an account that changed: read it again
                return outcome.answer(op_id)
            except Rejected as exc:
                self._rollback(tx)
                return self._record_rejection(op, str(exc))
            except Retry:
                self._rollback(tx)
            except AppwriteException as exc:
                self._rollback(tx)
                if exc.code != 409:
                    raise
                recorded = self._recorded[op_id] = self._get(SYNC_OP, op_id)
                if recorded is not None:  # the same op, applied meanwhile by a replay
                    return self._replayed(op_id, recorded)
        raise AppwriteException("the row kept changing", 503, "transaction_conflict")

    def _replayed(self, op_id: str, recorded: dict[str, Any]) -> dict[str, Any]:
        status = recorded.get("status")
        table, row = recorded.get("table_name", ""), recorded.get("row_id", "")
        server = self._get(table, row) if table in TABLES and row else None
        if status == "applied":
            return {"id": op_id, "status": "duplicate", "reason": "", "server": server}
        return {"id": op_id, "status": status, "reason": recorded.get("reason") or "", "server": server}

    def _record_rejection(self, op: dict[str, Any], reason: str) -> dict[str, Any]:
        table = op.get("table") if isinstance(op.get("table"), str) else ""
        row = op.get("row") if isinstance(op.get("row"), str) else ""
        server = self._get(table, row) if table in TABLES and row and _ID.match(row) else None
        data = self._sync_op_data(op, "rejected", reason)
        try:
            self.tables.create_row(DB, SYNC_OP, op["id"], data, self._perms())
            self._recorded[op["id"]] = data
        except AppwriteException as exc:
            if exc.code != 409:  # 409: a replay recorded it first
                raise
            self._recorded.pop(op["id"], None)
        return {"id": op["id"], "status": "rejected", "reason": reason, "server": server}

    def _rollback(self, tx: str) -> None:
        with contextlib.suppress(AppwriteException):  # an expired transaction is gone anyway
            self.tables.update_transaction(tx, rollback=True)

    def _stage_sync_op(self, tx: str, op: dict[str, Any], outcome: Outcome) -> None:
        data = self._sync_op_data(op, outcome.status, outcome.reason)
        self.tables.create_row(DB, SYNC_OP, op["id"], data, self._perms(), transaction_id=tx)

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
    def _apply(self, op: dict[str, Any], tx: str) -> Outcome:
        table, rules = op["table"], TABLES[op["table"]]
        current = self._get(table, op["row"], tx)
        if current is not None and current.get(TEAM) != self.team:
            raise Rejected("That row belongs to another team.")
        if op["op"] == "create":
            if current is not None:
                return Outcome("applied", "already on the server", current)
            return self._create(op, rules, tx)
        if current is None:
            raise Rejected("There is no such row on the server to change.")
        kind = rules["kind"]
        if kind == "append-only":
            raise Rejected(f"{table} rows are never changed, only added.")
        if kind == "state-machine":
            return self._advance(op, rules, current, tx)
        return self._merge_fields(op, rules, current, tx)

    def _create(self, op: dict[str, Any], rules: dict[str, Any], tx: str) -> Outcome:
        table, data = op["table"], dict(op["data"])
        missing = [c for c, spec in rules["columns"].items() if spec["required"] and data.get(c) is None]
        if missing:
            raise Rejected(f"Required fields are missing: {', '.join(missing)}.")
        parents = {}
        for column, parent_table in rules["parents"]:
            if data.get(column) is not None:
                parent = self._get(parent_table, str(data[column]), tx)
                if parent is None or parent.get(TEAM) != self.team:
                    raise Rejected(f"Its {parent_table} ({column}) is not on the server.")
                parents[column] = parent
        if table == "prescription" and _rank(table, data.get("status")) < _rank(table, "signed"):
            raise Rejected("Only signed prescriptions are shared.")
        if table == "ledger_entry":
            self._check_debit(data, tx)
        duplicates = self._free_unique(table, rules, op["row"], data, tx)
        data[TEAM] = self.team
        # A supply's conflict names the item or the prescription; the line itself is kept: it happened.
        conflict = self._supply(data, parents["item_id"], tx) if table == "dispensing_line" else None
        created = self.tables.create_row(DB, table, op["row"], data, self._perms(), transaction_id=tx)
        server = {**data, "$id": op["row"], "$tableId": table, "$updatedAt": created.updatedat}
        if duplicates:
            return Outcome("conflict", " ".join(duplicates), server)
        return conflict or Outcome("applied", "", server)

    def _free_unique(self, table: str, rules: dict[str, Any], row_id: str, data: dict[str, Any], tx: str) -> list[str]:
        """A new row's values of unique columns (an NHS number, a user name) that another row of the team holds are
        set aside: emptied, or made its own where the column may not be empty. Why, for each."""
        reasons = []
        for column in rules.get("unique", ()):
            value = data.get(column)
            if value is None or not self._holder(table, column, value, row_id, tx):
                continue
            kept = f"{value}~{row_id[-6:]}" if rules["columns"][column]["required"] else None
            data[column] = kept
            why = DUPLICATE_REASONS.get((table, column), "Another {table} of the organisation has that {column}.")
            reasons.append(why.format(table=table, column=column, value=value, kept=kept))
        return reasons

    def _holder(self, table: str, column: str, value: Any, row_id: str, tx: str) -> bool:
        """Whether another row of the team holds ``value`` in ``column``."""
        holders = self.tables.list_rows(
            DB,
            table,
            [Query.equal(column, [value]), Query.equal(TEAM, [self.team]), Query.limit(2)],
            transaction_id=tx,
        )
        return any(row.id != row_id for row in holders.rows)

    def _check_debit(self, data: dict[str, Any], tx: str) -> None:
        prescription_id = data.get("prescription_id")
        prescription = self._get("prescription", str(prescription_id), tx) if prescription_id else None
        if prescription is None or prescription.get(TEAM) != self.team:
            raise Rejected("A debit is for a signed prescription of the team that is on the server.")
        if _rank("prescription", prescription.get("status")) < _rank("prescription", "signed"):
            raise Rejected("A debit is for a signed prescription.")
        earlier = self.tables.list_rows(
            DB,
            "ledger_entry",
            [Query.equal("prescription_id", [prescription_id]), Query.limit(1)],
            transaction_id=tx,
        )
        if earlier.rows:
            raise Rejected("That prescription has been debited already.")

    def _supply(self, line: dict[str, Any], item: dict[str, Any], tx: str) -> Outcome | None:
        """A dispensing line adds to its item's supplied quantity (the server's, from every workstation); a
        conflict when that over-supplies the item or supplies a prescription finished elsewhere."""
        quantity = _decimal(line.get("quantity"))
        if quantity is None or quantity <= 0:
            raise Rejected("A dispensing line supplies a quantity above zero.")
        supplied = self._supplied(item["$id"], tx) + quantity
        prescribed = _decimal(item.get("quantity")) or Decimal(0)
        changes: dict[str, Any] = {"quantity_supplied": _text(supplied)}
        if supplied >= prescribed and _rank("prescription_item", "supplied") > _rank(
            "prescription_item", item.get("status")
        ):
            changes["status"] = "supplied"
        self.tables.update_row(DB, "prescription_item", item["$id"], changes, transaction_id=tx)
        outcome = None
        if supplied > prescribed:
            outcome = Outcome(
                "conflict",
                f"Over-supplied: {_text(prescribed)} prescribed, {_text(supplied)} supplied across workstations.",
                {**item, **changes},
            )
        prescription = self._get("prescription", str(item.get("prescription_id")), tx)
        if prescription is not None and prescription.get("status") in ("cancelled", "expired"):
            outcome = Outcome(
                "conflict",
                f"Supplied although the prescription was {prescription['status']} at another workstation.",
                prescription,
            )
        self._settle_prescription(str(item.get("prescription_id")), {item["$id"]: changes.get("status")}, tx)
        return outcome

    def _supplied(self, item_id: str, tx: str) -> Decimal:
        total = Decimal(0)
        for row in self._rows("dispensing_line", [Query.equal("item_id", [item_id])], tx, select=["quantity"]):
            total += _decimal(row.get("quantity")) or Decimal(0)
        return total

    def _settle_prescription(self, prescription_id: str, just_changed: dict[str, str | None], tx: str) -> None:
        """Every item supplied or finished, at least one supplied: the prescription is dispensed (forward only)."""
        prescription = self._get("prescription", prescription_id, tx)
        if prescription is None or _rank("prescription", prescription.get("status")) >= _rank(
            "prescription", "dispensed"
        ):
            return
        items = self._rows("prescription_item", [Query.equal("prescription_id", [prescription_id])], tx)
        statuses = [just_changed.get(i["$id"]) or i.get("status") for i in items]
        final = _rank("prescription_item", "supplied")
        if statuses and all(_rank("prescription_item", s) >= final for s in statuses) and "supplied" in statuses:
            self.tables.update_row(DB, "prescription", prescription_id, {"status": "dispensed"}, transaction_id=tx)

    def _advance(self, op: dict[str, Any], rules: dict[str, Any], current: dict[str, Any], tx: str) -> Outcome:
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
            self.tables.update_row(DB, table, op["row"], changes, transaction_id=tx)
        if table == "prescription_item" and status_column in changes:
            self._settle_prescription(str(current.get("prescription_id")), {op["row"]: wanted}, tx)
        return Outcome("applied", "", {**current, **changes})

    def _merge_fields(self, op: dict[str, Any], rules: dict[str, Any], current: dict[str, Any], tx: str) -> Outcome:
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
            if changes.get(column) is not None and self._holder(op["table"], column, changes[column], op["row"], tx):
                del changes[column]  # the value stays as the server has it
                duplicates.append(f"Another {op['table']} of the organisation has that {column}: kept as it was.")
        if changes:
            self.tables.update_row(DB, op["table"], op["row"], changes, transaction_id=tx)
        if lost or duplicates:
            server = {**current, **changes}
            why = [f"Changed at another workstation first: {', '.join(sorted(lost))} kept as the server has it."]
            return Outcome("conflict", " ".join((why if lost else []) + duplicates), server)
        return Outcome("applied", "", {**current, **changes})

    # -- reading -----------------------------------------------------------------------------------------------
    def _rows(
        self, table: str, queries: list[str], tx: str | None = None, select: list[str] | None = None
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = [*queries, Query.equal(TEAM, [self.team]), Query.order_asc("$id"), Query.limit(PAGE)]
            if select is not None:
                page.append(Query.select(["$id", *select]))
            if cursor is not None:
                page.append(Query.cursor_after(cursor))
            result = self.tables.list_rows(DB, table, page, transaction_id=tx)
            rows += [{**r.data, "$id": r.id, "$updatedAt": r.updatedat} for r in result.rows]
            if len(result.rows) < PAGE:
                return rows
            cursor = result.rows[-1].id

    def _rows_by_id(self, table: str, ids: list[str]) -> list[dict[str, Any]]:
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

    def summary(self) -> dict[str, Any]:
        """Rows of the team per table, and a hash of its token ledger: what a workstation checks itself against."""
        counts = {}
        for table in TABLES:
            counts[table] = len(self._rows(table, [], select=[]))
        ledger = self._rows("ledger_entry", [], select=["amount"])
        lines = sorted(f"{row['$id']}:{row.get('amount')}" for row in ledger)
        return {"counts": counts, "ledgerHash": hashlib.sha256("\n".join(lines).encode()).hexdigest()}


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
