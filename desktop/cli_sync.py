"""``rxdesk sync ...`` (this workstation and the server) and ``rxdesk backend deploy`` (set up a project)."""

from __future__ import annotations

import argparse
import getpass
import os
from typing import Any

from rich.table import Table

from desktop.cli_common import CommandError, print_json, signed_in, stdout


def add_sync_commands(groups: Any, common: argparse.ArgumentParser, with_user: argparse.ArgumentParser) -> None:
    sync = groups.add_parser("sync", help="sync with the organisation's server").add_subparsers(dest="command")
    sync.required = True

    p = sync.add_parser("sign-in", parents=[with_user], help="sign this workstation in to the server")
    p.add_argument("--endpoint", required=True, help="the Appwrite API address, e.g. https://cloud.appwrite.io/v1")
    p.add_argument("--project", required=True, help="the Appwrite project id")
    p.add_argument("--email", required=True, help="the server account (its password from $RXDESK_SYNC_PASSWORD)")
    p.add_argument("--team", help="the organisation's team id (needed when the account has several)")
    p.set_defaults(handler=cmd_sync_sign_in)

    p = sync.add_parser("sign-out", parents=[common], help="forget the server session (nothing queued is lost)")
    p.set_defaults(handler=cmd_sync_sign_out)

    p = sync.add_parser("now", parents=[common], help="sync now: send what is queued, take what is new")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sync_now)

    p = sync.add_parser("status", parents=[common], help="the sync state, what is queued and the inbox")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sync_status)

    p = sync.add_parser("inbox", parents=[with_user], help="changes the server rejected or found in conflict")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sync_inbox)

    for name, helptext in (("restore", "put your losing values back"), ("dismiss", "accept the server's version")):
        p = sync.add_parser(name, parents=[with_user], help=f"an inbox item: {helptext}")
        p.add_argument("item")
        p.set_defaults(handler=cmd_sync_resolve, resolution=name)

    backend = groups.add_parser("backend", help="the Appwrite project behind sync").add_subparsers(dest="command")
    backend.required = True
    p = backend.add_parser(
        "deploy",
        help="create the database, tables, columns and indexes of backend/appwrite.config.json in a project "
        "(an API key from $APPWRITE_API_KEY or asked: used once, never stored)",
    )
    p.add_argument("--endpoint", required=True)
    p.add_argument("--project", required=True)
    p.set_defaults(handler=cmd_backend_deploy)


def _database(args: argparse.Namespace) -> Any:
    from core.paths import data_dir
    from core.storage.database import APP_DATABASE_NAME, open_database

    return open_database(data_dir(args.data_dir) / APP_DATABASE_NAME)


def _secret(variable: str, prompt: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        try:
            value = getpass.getpass(prompt)
        except EOFError:
            raise CommandError(f"Nothing was given (set {variable} in scripts).") from None
    return value


def cmd_sync_sign_in(args: argparse.Namespace) -> int:
    from sync.connection import connect_workstation

    password = _secret("RXDESK_SYNC_PASSWORD", f"Server password for {args.email}: ")
    with signed_in(args) as ctx:
        settings = connect_workstation(ctx, args.endpoint, args.project, args.email, password, team=args.team)
    stdout.print(f"Signed in to {settings.endpoint} as {settings.email} (team {settings.team}).", markup=False)
    return 0


def cmd_sync_sign_out(args: argparse.Namespace) -> int:
    from sync.connection import sign_out

    database = _database(args)
    try:
        sign_out(database)
    finally:
        database.close()
    stdout.print("Signed out: sync waits until someone signs in again; nothing queued is lost.", markup=False)
    return 0


def _status_dict(status: Any) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "detail": status.detail,
        "last_sync": status.last_sync.isoformat() if status.last_sync else None,
        "pending": status.pending,
        "inbox": status.inbox,
    }


def cmd_sync_now(args: argparse.Namespace) -> int:
    from sync.engine import SyncEngine, SyncState

    database = _database(args)
    try:
        engine = SyncEngine(database)
        report = engine.sync_now()
        status = engine.status
    finally:
        database.close()
    if args.json:
        out = _status_dict(status)
        if report is not None:
            out["pushed"], out["pulled"] = report.pushed, report.pull.merged
        print_json(out)
    else:
        line = f"Sync: {status.state.value}" + (f" ({status.detail})" if status.detail else "")
        if report is not None:
            line += f"; sent {sum(report.pushed.values())}, took {report.pull.merged} from the server"
        stdout.print(line + f"; {status.pending} waiting, {status.inbox} in the inbox.", markup=False)
    if status.state is not SyncState.UP_TO_DATE:
        raise CommandError(
            f"sync did not complete: {status.state.value}" + (f" ({status.detail})" if status.detail else "")
        )
    return 0


def cmd_sync_status(args: argparse.Namespace) -> int:
    from sync.engine import SyncEngine

    database = _database(args)
    try:
        status = SyncEngine(database).status
    finally:
        database.close()
    if args.json:
        print_json(_status_dict(status))
    else:
        stdout.print(
            f"Sync: {status.state.value}"
            + (f" ({status.detail})" if status.detail else "")
            + f"; {status.pending} waiting, {status.inbox} in the inbox.",
            markup=False,
        )
    return 0


def cmd_sync_inbox(args: argparse.Namespace) -> int:
    from sync.inbox import open_items

    with signed_in(args) as ctx:
        items = open_items(ctx)
    if args.json:
        print_json(
            [
                {
                    "id": i.id,
                    "table": i.table,
                    "row": i.row_id,
                    "kind": i.kind,
                    "reason": i.reason,
                    "mine": i.mine,
                    "server": i.server,
                    "restorable": i.restorable,
                }
                for i in items
            ]
        )
        return 0
    table = Table("id", "kind", "what", "reason", "restore?")
    for i in items:
        table.add_row(i.id, i.kind, f"{i.table} {i.row_id}", i.reason, "yes" if i.restorable else "")
    stdout.print(table)
    return 0


def cmd_sync_resolve(args: argparse.Namespace) -> int:
    from sync.inbox import dismiss, restore

    with signed_in(args) as ctx:
        (restore if args.resolution == "restore" else dismiss)(ctx, args.item)
    stdout.print(
        "Restored: your values are queued for the server." if args.resolution == "restore" else "Dismissed.",
        markup=False,
    )
    return 0


def cmd_backend_deploy(args: argparse.Namespace) -> int:
    from sync.deploy import deploy_schema

    key = _secret("APPWRITE_API_KEY", "Appwrite API key (databases and tables write scopes): ")
    done = deploy_schema(args.endpoint, args.project, key, report=lambda line: stdout.print(line, markup=False))
    stdout.print(
        f"Set up {done} items. Now deploy the functions with the Appwrite CLI from backend/: appwrite push functions",
        markup=False,
    )
    return 0
