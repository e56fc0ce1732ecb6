"""The server's configuration and the gateway's rules are generated from the app's own tables and roles."""

from __future__ import annotations

import json

from core.storage.models import Base
from core.users.roles import ROLE_PERMISSIONS
from sync import server_config
from sync.tables import STATUS_RANKS, SYNC_TABLES, SYNC_TABLES_BY_NAME, TableKind

# App tables that never sync, and why: this workstation's own state, or settings of the installation.
LOCAL_TABLES = {
    "outbox": "what this workstation has to send",
    "setting": "this installation's settings",
    "sync_shadow": "this workstation's view of the server",
    "sync_watermark": "how far this workstation has pulled",
    "sync_inbox": "this workstation's rejected changes",
    "alembic_version": "the schema version",
}


def test_the_committed_files_are_what_the_generator_makes() -> None:
    # After changing a model or a role: python -m sync.server_config
    assert server_config.CONFIG_PATH.read_text() == server_config.render(server_config.project_config())
    assert server_config.RULES_PATH.read_text() == server_config.render(server_config.gateway_rules())


def test_every_app_table_either_syncs_or_is_said_to_be_local() -> None:
    synced = {t.name for t in SYNC_TABLES}
    assert set(Base.metadata.tables) - synced <= set(LOCAL_TABLES), "a new table must be synced or listed here"
    assert not synced & set(LOCAL_TABLES)


def test_secrets_and_this_workstations_state_never_reach_the_server() -> None:
    config = json.loads(server_config.CONFIG_PATH.read_text())
    columns = {t["$id"]: {c["key"] for c in t["columns"]} for t in config["tables"]}
    assert not {"password_hash", "pin_hash", "failed_sign_ins", "locked_until"} & columns["user_account"]
    assert "confirmed" not in columns["ledger_entry"]
    assert "confirmed_balance" not in columns["token_account"]


def test_tables_are_readable_by_their_team_only_and_written_by_no_client() -> None:
    config = json.loads(server_config.CONFIG_PATH.read_text())
    for table in config["tables"]:
        assert table["$permissions"] == [], table["$id"]  # no direct writes, no reads but by row
        assert table["rowSecurity"] is True
        assert {
            "key": "team_updated",
            "type": "key",
            "columns": ["team_id", "$updatedAt"],
            "orders": ["ASC", "ASC"],
        } in table["indexes"]
    functions = {f["$id"]: f for f in config["functions"]}
    assert set(functions) == {"sync-push", "billing", "notify"}
    assert functions["sync-push"]["execute"] == ["users"]
    assert functions["notify"]["execute"] == []  # only Appwrite runs it: on its events and schedule
    for function in functions.values():
        assert (server_config.BACKEND / function["path"] / function["entrypoint"]).is_file()
        requirements = (server_config.BACKEND / function["path"] / "requirements.txt").read_text().split()
        assert "appwrite==27.0.0" in requirements  # the SDK the stand-in checks against
        assert "vars" not in function  # secrets are set on the server, never in the project file


def test_the_billing_function_and_its_payment_table() -> None:
    config = json.loads(server_config.CONFIG_PATH.read_text())
    [billing] = [f for f in config["functions"] if f["$id"] == "billing"]
    # Stripe calls the webhook on the function's domain without an Appwrite session.
    assert billing["execute"] == ["any"] and billing["runtime"] == "python-3.12"
    assert billing["entrypoint"] == "src/main.py" and billing["path"] == "functions/billing"
    assert set(billing["scopes"]) == {"rows.read", "rows.write", "teams.read"}
    [payment] = [t for t in config["tables"] if t["$id"] == "payment"]
    columns = {c["key"]: c for c in payment["columns"]}
    assert set(columns) == {
        "team_id", "account_id", "actor_id", "pack", "tokens", "amount_pence", "currency", "status",
        "failure_reason", "refunded_pence", "payment_intent", "created_at", "updated_at",
    }  # fmt: skip
    assert columns["created_at"] == {"key": "created_at", "type": "varchar", "required": True, "array": False,
                                     "size": 32}  # fmt: skip
    assert columns["status"]["size"] >= len("partially_refunded")
    # Server-only: no workstation pulls or pushes payments (the credit they make is a ledger entry, which syncs).
    assert "payment" not in {t.name for t in SYNC_TABLES}
    assert "payment" not in server_config.gateway_rules()["tables"]
    requirements = (server_config.BACKEND / billing["path"] / "requirements.txt").read_text().split()
    assert "appwrite==27.0.0" in requirements and any(r.startswith("stripe==16.") for r in requirements)


def test_the_gateway_knows_the_apps_roles_and_every_status() -> None:
    rules = server_config.gateway_rules()
    assert rules["roles"] == {r.value: sorted(p.name for p in perms) for r, perms in ROLE_PERMISSIONS.items()}
    for name, ranks in STATUS_RANKS.items():
        table = SYNC_TABLES_BY_NAME[name]
        assert table.kind is TableKind.STATE_MACHINE
        assert set(server_config.PUSH_PERMISSIONS[name]) == set(ranks) - {"draft"}, name


def test_parents_are_synced_tables_sent_earlier() -> None:
    order = [t.name for t in SYNC_TABLES]
    for table in SYNC_TABLES:
        for column, parent in table.parents:
            assert column in table.model_table.columns, (table.name, column)
            assert order.index(parent) <= order.index(table.name), (table.name, parent)


def test_notify_runs_on_the_events_of_the_statuses_it_tells_patients_about() -> None:
    from tests.backend_functions import load_function
    from tests.fakes.appwrite.events import row_event, subscribed

    notify = load_function("notify")
    assert {(t, s) for t, statuses in server_config.NOTIFY_TRIGGERS.items() for s in statuses} == set(notify.TRIGGERS)
    events = server_config.NOTIFY_FUNCTION["events"]
    for table, status in notify.TRIGGERS:
        assert status in STATUS_RANKS[table], (table, status)
        for action in ("create", "update"):  # a row may reach the server already in that status
            assert subscribed(events, row_event("rxdesk", table, "r1", action))
    assert not subscribed(events, row_event("rxdesk", "patient", "r1", "update"))
    assert not subscribed(events, row_event("rxdesk", "notification", "r1", "create"))  # its own writes
    assert server_config.NOTIFY_FUNCTION["schedule"]
