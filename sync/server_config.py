"""The Appwrite project RxDesk needs, generated from the synced tables (sync/tables.py) and the roles
(core/users/roles.py), so the server, the gateway and the app cannot disagree.

    python -m sync.server_config        # rewrites backend/appwrite.config.json and the gateway's rules

Writes two files: ``backend/appwrite.config.json`` (the Appwrite CLI's project file: the database, every table with
its columns, indexes and row security, the server-only ``payment`` table of the billing function and
``notification`` table of the notify function, and the functions with the events and schedule notify runs on) and
``backend/functions/sync-push/src/rules.json`` (what the gateway checks: columns, kinds, parents, status order and
who may do what). A test keeps both current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.users.roles import ROLE_PERMISSIONS, Permission
from sync.tables import STATUS_RANKS, SYNC_TABLES, ColumnType, SyncTable, TableKind

BACKEND = Path(__file__).resolve().parent.parent / "backend"
CONFIG_PATH = BACKEND / "appwrite.config.json"
RULES_PATH = BACKEND / "functions" / "sync-push" / "src" / "rules.json"

PROJECT_ID = "rxdesk"
DATABASE_ID = "rxdesk"
SYNC_OP_TABLE = "sync_op"  # every applied op, by op id: a replay is recognised, never applied twice
NOTIFICATION_TABLE = "notification"  # what the notify function told patients, one row per (row, event, channel)
TEAM_COLUMN = "team_id"
ID_SIZE = 36  # Appwrite ids: up to 36 characters

_P = Permission
# Who may make each change, by table: the permission the op's author needs (any one of them). For the state
# machines the status an op moves to decides; expiry is done by whoever signs in first after the date passed.
PUSH_PERMISSIONS: dict[str, dict[str, tuple[Permission, ...]]] = {
    "organisation": {"*": (_P.MANAGE_USERS,)},
    "user_account": {"*": (_P.MANAGE_USERS,)},
    "patient": {"*": (_P.EDIT_PATIENTS, _P.IMPORT_PATIENTS)},
    "allergy": {"*": (_P.RECORD_ALLERGIES,)},
    "token_account": {"*": (_P.MANAGE_TOKENS,)},
    "prescription": {
        "signed": (_P.PRESCRIBE,),
        "partially dispensed": (_P.DISPENSE,),
        "dispensed": (_P.DISPENSE,),
        "cancelled": (_P.CANCEL_PRESCRIPTIONS,),
        "expired": (_P.VIEW_PRESCRIPTIONS,),
    },
    "prescription_item": {
        "pending": (_P.PRESCRIBE,),
        "owing": (_P.DISPENSE,),
        "supplied": (_P.DISPENSE,),
        "cancelled": (_P.CANCEL_PRESCRIPTIONS,),
        "expired": (_P.VIEW_PRESCRIPTIONS,),
    },
    "owing": {
        "open": (_P.DISPENSE,),
        "ready": (_P.DISPENSE,),
        "supplied": (_P.DISPENSE,),
        "cancelled": (_P.CANCEL_PRESCRIPTIONS,),
        "expired": (_P.VIEW_PRESCRIPTIONS,),
    },
    "rule_override": {"*": (_P.PRESCRIBE, _P.DISPENSE)},
    "dispensing": {"*": (_P.DISPENSE,)},
    "dispensing_line": {"*": (_P.DISPENSE,)},
    "cd_register_entry": {"*": (_P.CD_REGISTER,)},
    "ledger_entry": {"*": (_P.PRESCRIBE,)},
    "audit_event": {"*": tuple(Permission)},  # anyone's own trail
}


def _column_config(name: str, type_: ColumnType, size: int | None, required: bool) -> dict[str, Any]:
    column: dict[str, Any] = {"key": name, "type": type_.value, "required": required, "array": False}
    if size is not None:
        column["size"] = size
    return column


def _pull_index() -> dict[str, Any]:
    # Pull reads a team's rows in server order: team, then $updatedAt (docs/sync.md).
    return {
        "key": "team_updated",
        "type": "key",
        "columns": [TEAM_COLUMN, "$updatedAt"],
        "orders": ["ASC", "ASC"],
    }


# Columns the gateway looks rows up by, beyond the row id.
LOOKUP_INDEXES = {
    "ledger_entry": ("prescription_id",),
    "dispensing_line": ("item_id",),
    "prescription_item": ("prescription_id",),
    "dispensing": ("prescription_id",),  # notify: the pharmacy that dispensed a prescription
}


def _table_config(table: SyncTable) -> dict[str, Any]:
    columns = [_column_config(TEAM_COLUMN, ColumnType.VARCHAR, ID_SIZE, True)]
    columns += [_column_config(c.name, c.kind, c.size, c.required) for c in table.columns]
    return {
        "$id": table.name,
        "$permissions": [],  # nobody writes directly: rows are written by sync-push with its API key
        "databaseId": DATABASE_ID,
        "name": table.name,
        "enabled": True,
        "rowSecurity": True,  # each row says which team reads it
        "columns": columns,
        "indexes": [_pull_index()]
        + [
            {"key": f"by_{column}", "type": "key", "columns": [column], "orders": ["ASC"]}
            for column in (*LOOKUP_INDEXES.get(table.name, ()), *table.unique)
        ],
    }


def _sync_op_table() -> dict[str, Any]:
    columns = [
        _column_config(TEAM_COLUMN, ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("table_name", ColumnType.VARCHAR, 32, True),
        _column_config("row_id", ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("status", ColumnType.VARCHAR, 16, True),
        _column_config("reason", ColumnType.TEXT, None, False),
        _column_config("actor_id", ColumnType.VARCHAR, ID_SIZE, False),
        _column_config("device", ColumnType.VARCHAR, 100, False),
    ]
    return {
        "$id": SYNC_OP_TABLE,
        "$permissions": [],
        "databaseId": DATABASE_ID,
        "name": SYNC_OP_TABLE,
        "enabled": True,
        "rowSecurity": True,
        "columns": columns,
        "indexes": [_pull_index()],
    }


PAYMENT_TABLE = "payment"
# Card payments of token packs, written only by the billing function (backend/functions/billing): the team reads its
# own rows (a workstation looks one up while its payment page is open); workstations never pull them (the ledger
# entry a payment makes is what syncs).
PAYMENT_STATUSES = ("created", "succeeded", "failed", "refunded", "partially_refunded")


def _payment_table() -> dict[str, Any]:
    columns = [
        _column_config(TEAM_COLUMN, ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("account_id", ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("actor_id", ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("pack", ColumnType.VARCHAR, 32, True),
        _column_config("tokens", ColumnType.INTEGER, None, True),
        _column_config("amount_pence", ColumnType.INTEGER, None, True),
        _column_config("currency", ColumnType.VARCHAR, 3, True),
        _column_config("status", ColumnType.VARCHAR, max(len(s) for s in PAYMENT_STATUSES), True),
        _column_config("failure_reason", ColumnType.VARCHAR, 500, False),
        _column_config("refunded_pence", ColumnType.INTEGER, None, False),
        _column_config("payment_intent", ColumnType.VARCHAR, 255, True),  # Stripe's id
        _column_config("created_at", ColumnType.VARCHAR, 32, True),  # the app's ISO text, as synced times are
        _column_config("updated_at", ColumnType.VARCHAR, 32, True),
    ]
    return {
        "$id": PAYMENT_TABLE,
        "$permissions": [],  # written by the billing function with its API key; read by row (the team)
        "databaseId": DATABASE_ID,
        "name": PAYMENT_TABLE,
        "enabled": True,
        "rowSecurity": True,
        "columns": columns,
        "indexes": [_pull_index()],
    }


def _notification_table() -> dict[str, Any]:
    """Written by the notify function only; no contact details in it (those stay on the patient row)."""
    columns = [
        _column_config(TEAM_COLUMN, ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("table_name", ColumnType.VARCHAR, 32, True),
        _column_config("row_id", ColumnType.VARCHAR, ID_SIZE, True),
        _column_config("event", ColumnType.VARCHAR, 16, True),  # signed | dispensed | owing_ready
        _column_config("channel", ColumnType.VARCHAR, 8, True),  # email | sms
        _column_config("patient_id", ColumnType.VARCHAR, ID_SIZE, False),
        _column_config("status", ColumnType.VARCHAR, 16, True),  # pending | sent | failed | rejected | skipped
        _column_config("reason", ColumnType.VARCHAR, 64, False),
        _column_config("attempts", ColumnType.INTEGER, None, True),
        _column_config("provider_status", ColumnType.INTEGER, None, False),
        _column_config("provider_id", ColumnType.VARCHAR, 64, False),
    ]
    return {
        "$id": NOTIFICATION_TABLE,
        "$permissions": [],
        "databaseId": DATABASE_ID,
        "name": NOTIFICATION_TABLE,
        "enabled": True,
        "rowSecurity": True,
        "columns": columns,
        "indexes": [
            _pull_index(),
            {"key": "by_status", "type": "key", "columns": ["status", "attempts"], "orders": ["ASC", "ASC"]},
        ],
    }


# The statuses patients are told about, by table (the notify function's TRIGGERS; a test keeps them in step).
NOTIFY_TRIGGERS: dict[str, tuple[str, ...]] = {"prescription": ("signed", "dispensed"), "owing": ("ready",)}

SYNC_PUSH_FUNCTION: dict[str, Any] = {
    "$id": "sync-push",
    "name": "sync-push",
    "runtime": "python-3.12",
    "execute": ["users"],  # any signed-in user; the function checks the team and the role of each change
    "events": [],
    "schedule": "",
    "timeout": 30,
    "enabled": True,
    "logging": True,
    "entrypoint": "src/main.py",
    "commands": "pip install -r requirements.txt",
    "path": "functions/sync-push",
    "scopes": ["rows.read", "rows.write", "teams.read", "users.read"],
}


BILLING_FUNCTION: dict[str, Any] = {
    "$id": "billing",
    "name": "billing",
    "runtime": "python-3.12",
    # Anyone: Stripe calls POST /webhook on the function's domain with no Appwrite session (the signature is the
    # check); POST /payments checks the signed-in caller, the team and the buyer's role itself.
    "execute": ["any"],
    "events": [],
    "schedule": "",
    "timeout": 30,
    "enabled": True,
    "logging": True,  # ids and outcomes only
    "entrypoint": "src/main.py",
    "commands": "pip install -r requirements.txt",
    "path": "functions/billing",
    "scopes": ["rows.read", "rows.write", "teams.read"],
}


NOTIFY_FUNCTION: dict[str, Any] = {
    "$id": "notify",
    "name": "notify",
    "runtime": "python-3.12",
    "execute": [],  # nobody runs it by hand: Appwrite does, on the events below and on the schedule
    "events": [
        f"databases.{DATABASE_ID}.tables.{table}.rows.*.{action}"
        for table in NOTIFY_TRIGGERS
        for action in ("create", "update")
    ],
    "schedule": "*/15 * * * *",  # failed notifications sent again
    "timeout": 120,
    "enabled": True,
    "logging": True,
    "entrypoint": "src/main.py",
    "commands": "pip install -r requirements.txt",
    "path": "functions/notify",
    "scopes": ["rows.read", "rows.write"],
}


def project_config() -> dict[str, Any]:
    return {
        "projectId": PROJECT_ID,
        "projectName": "RxDesk",
        "tablesDB": [{"$id": DATABASE_ID, "name": "RxDesk", "enabled": True}],
        "tables": [_table_config(t) for t in SYNC_TABLES] + [_sync_op_table(), _payment_table(), _notification_table()],
        "functions": [SYNC_PUSH_FUNCTION, BILLING_FUNCTION, NOTIFY_FUNCTION],
        "teams": [],
    }


def gateway_rules() -> dict[str, Any]:
    """What sync-push checks, as plain data (the function is deployed on its own and cannot import RxDesk)."""
    return {
        "databaseId": DATABASE_ID,
        "teamColumn": TEAM_COLUMN,
        "syncOpTable": SYNC_OP_TABLE,
        "roles": {role.value: sorted(p.name for p in perms) for role, perms in ROLE_PERMISSIONS.items()},
        "tables": {
            t.name: {
                "kind": t.kind.value,
                "columns": {c.name: {"type": c.kind.value, "size": c.size, "required": c.required} for c in t.columns},
                "parents": [list(p) for p in t.parents],
                "statusColumn": t.status_column,
                "statusRanks": STATUS_RANKS.get(t.name),
                "unique": list(t.unique),
                "permissions": {k: sorted(p.name for p in v) for k, v in PUSH_PERMISSIONS[t.name].items()},
            }
            for t in SYNC_TABLES
        },
        "appendOnly": [t.name for t in SYNC_TABLES if t.kind is TableKind.APPEND_ONLY],
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for path, data in ((CONFIG_PATH, project_config()), (RULES_PATH, gateway_rules())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(data), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
