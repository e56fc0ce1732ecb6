"""``rxdesk kiosk configure``: how this workstation's kiosk runs (admins; audited by core.kiosk)."""

from __future__ import annotations

import argparse
from typing import Any

from desktop.cli_common import signed_in, stdout

# As core.kiosk.KioskWorkspace: spelled out so that ``rxdesk --help`` loads no database code.
KIOSK_WORKSPACES = ("counter", "patients", "medicines")


def add_kiosk_commands(groups: Any, with_user: argparse.ArgumentParser) -> None:
    kiosk = groups.add_parser("kiosk", help="this workstation's kiosk (rxdesk --kiosk)").add_subparsers(dest="command")
    kiosk.required = True
    p = kiosk.add_parser("configure", parents=[with_user], help="the kiosk's workspace and idle lock (admins only)")
    p.add_argument("--workspace", choices=KIOSK_WORKSPACES, help="the one workspace the kiosk shows")
    p.add_argument("--idle-minutes", type=int, help="lock the kiosk after this many minutes without input")
    p.set_defaults(handler=cmd_kiosk_configure)


def cmd_kiosk_configure(args: argparse.Namespace) -> int:
    from core.kiosk import configure_kiosk

    with signed_in(args) as ctx:
        settings = configure_kiosk(ctx, workspace=args.workspace, idle_lock_minutes=args.idle_minutes)
    stdout.print(
        f"The kiosk shows the {settings.workspace.value} workspace and locks after {settings.idle_lock_minutes} "
        "idle minute(s).",
        markup=False,
    )
    return 0
