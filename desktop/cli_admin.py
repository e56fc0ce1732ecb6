"""``rxdesk`` commands for running an installation: first admin, users, the audit check, tokens, printing.

Each command is a thin shell over a service function in ``core``; errors reach the user as one line (cli.main).
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from desktop.cli_common import CommandError, signed_in, stdout


def add_admin_commands(groups: Any, common: argparse.ArgumentParser, with_user: argparse.ArgumentParser) -> Any:
    """Adds the commands; returns the ``prescription`` subparsers for the clinical commands to join."""

    def command(group: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> Any:
        p = group.add_parser(name, parents=[with_user], help=help_text)
        p.set_defaults(handler=handler)
        return p

    p = groups.add_parser("setup", parents=[common], help="create the first admin of a new installation")
    p.add_argument("--admin", required=True, help="user name of the first admin")
    p.add_argument("--full-name", required=True)
    p.set_defaults(handler=cmd_setup)

    org = groups.add_parser("organisation", help="clinics and pharmacies").add_subparsers(dest="command")
    org.required = True
    p = command(org, "add", cmd_organisation_add, "add a clinic or a pharmacy (admins only; prints its id)")
    p.add_argument("--kind", required=True, choices=["clinic", "pharmacy"])
    p.add_argument("--name", required=True)
    p.add_argument("--address", required=True, help="lines separated by commas or newlines")
    p.add_argument("--postcode", required=True)
    p.add_argument("--phone", required=True)

    user = groups.add_parser("user", help="users and roles").add_subparsers(dest="command")
    user.required = True
    p = command(user, "add", cmd_user_add, "add a user (admins only); their password from $RXDESK_NEW_PASSWORD")
    p.add_argument("username")
    p.add_argument("--full-name", required=True)
    p.add_argument("--role", required=True, choices=["prescriber", "pharmacist", "technician", "admin"])
    p.add_argument("--organisation", help="organisation id")
    p.add_argument("--prescriber-type", choices=["doctor", "nurse", "dentist", "pharmacist prescriber"])
    p.add_argument("--registration", help="GMC, NMC, GDC or GPhC number")

    audit = groups.add_parser("audit", help="the tamper-evident audit log").add_subparsers(dest="command")
    audit.required = True
    command(audit, "verify", cmd_audit_verify, "check the hash chain; report the first broken link")

    tokens = groups.add_parser("tokens", help="token accounts").add_subparsers(dest="command")
    tokens.required = True
    p = command(tokens, "balance", cmd_tokens_balance, "balances of every token account")
    p.add_argument("--json", action="store_true")
    p = command(tokens, "account", cmd_tokens_account, "open a token account for an organisation or a prescriber")
    p.add_argument("owner_id", help="the organisation's or the user's id")
    p.add_argument("--owner", choices=["organisation", "user"], default="organisation")
    p.add_argument("--overdraft", type=int, default=0, help="tokens the balance may go below zero")
    p = command(tokens, "credit", cmd_tokens_credit, "credit tokens paid outside the app")
    p.add_argument("account_id")
    p.add_argument("amount", type=int)
    p.add_argument("--description", required=True)
    p = command(tokens, "statement", cmd_tokens_statement, "a token statement as PDF")
    p.add_argument("account_id")
    p.add_argument("--from", dest="first_day", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    p.add_argument("--to", dest="last_day", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    p.add_argument("--out", type=Path, required=True)

    rx = groups.add_parser("prescription", help="prescriptions").add_subparsers(dest="command")
    rx.required = True
    p = command(rx, "print", cmd_prescription_print, "a signed prescription as PDF (A5 or A4)")
    p.add_argument("prescription_id")
    p.add_argument("--size", choices=["A5", "A4"], default="A5")
    p.add_argument("--out", type=Path, required=True)
    return rx


def _secret(env: str, prompt: str) -> str:
    secret = os.environ.get(env)
    if secret is None:
        try:
            secret = getpass.getpass(prompt)
        except EOFError:
            raise CommandError(f"No password was given (set {env} in scripts).") from None
    return secret


def cmd_setup(args: argparse.Namespace) -> int:
    from core.paths import data_dir
    from core.storage.database import APP_DATABASE_NAME, open_database
    from core.users.roles import Role
    from core.users.service import NewUser, create_first_admin

    database = open_database(data_dir(args.data_dir) / APP_DATABASE_NAME)
    try:
        password = _secret("RXDESK_PASSWORD", f"Password for {args.admin}: ")
        create_first_admin(database, NewUser(args.admin, args.full_name, Role.ADMIN, password), socket.gethostname())
    finally:
        database.close()
    stdout.print(f"Admin {args.admin} created.", markup=False)
    return 0


def cmd_organisation_add(args: argparse.Namespace) -> int:
    from core.storage.models.organisation import OrganisationKind
    from core.users.service import create_organisation

    address = "\n".join(part.strip() for part in args.address.replace(",", "\n").splitlines() if part.strip())
    with signed_in(args) as ctx:
        org = create_organisation(ctx, OrganisationKind(args.kind), args.name, address, args.postcode, args.phone)
    stdout.print(org.id, markup=False)
    return 0


def cmd_tokens_account(args: argparse.Namespace) -> int:
    from core.tokens.ledger import create_account

    with signed_in(args) as ctx:
        account = create_account(ctx, args.owner, args.owner_id, overdraft_limit=args.overdraft)
    stdout.print(account.id, markup=False)
    return 0


def cmd_tokens_credit(args: argparse.Namespace) -> int:
    from core.tokens.ledger import add_credit

    with signed_in(args) as ctx:
        add_credit(ctx, args.account_id, args.amount, args.description)
    stdout.print(f"Credited {args.amount} tokens.", markup=False)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from core.users.roles import PrescriberType, Role
    from core.users.service import NewUser, create_user

    password = _secret("RXDESK_NEW_PASSWORD", f"Password for {args.username}: ")
    pin = os.environ.get("RXDESK_NEW_PIN")
    new = NewUser(
        username=args.username,
        full_name=args.full_name,
        role=Role(args.role),
        password=password,
        pin=pin,
        prescriber_type=PrescriberType(args.prescriber_type) if args.prescriber_type else None,
        registration_number=args.registration,
        organisation_id=args.organisation,
    )
    with signed_in(args) as ctx:
        user = create_user(ctx, new)
    stdout.print(f"User {user.username} ({user.role}) created: {user.id}", markup=False)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from core.audit.viewer import verify_audit_log

    with signed_in(args) as ctx:
        report = verify_audit_log(ctx)
    if report.intact:
        stdout.print(f"The audit log is intact: {report.events:,} events, every link verified.", markup=False)
        return 0
    raise CommandError(f"The audit log has been tampered with: {report.problem} (event {report.first_broken_seq}).")


def cmd_tokens_balance(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from core.storage.models import TokenAccount
    from core.tokens.ledger import available_balance, ledger_balance
    from core.users.roles import Permission, require

    with signed_in(args) as ctx:
        require(ctx, Permission.VIEW_TOKENS)
        with ctx.database.reader() as session:
            accounts = [
                {
                    "id": account.id,
                    "name": account.name,
                    "ledger_balance": ledger_balance(session, account.id),
                    "available": available_balance(session, account),
                    "overdraft_limit": account.overdraft_limit,
                }
                for account in session.execute(select(TokenAccount).order_by(TokenAccount.name)).scalars()
            ]
    if args.json:
        stdout.print_json(data=accounts)
        return 0
    table = Table("account", "ledger balance", "available now", "overdraft limit", "id")
    for a in accounts:
        table.add_row(a["name"], str(a["ledger_balance"]), str(a["available"]), str(a["overdraft_limit"]), a["id"])
    stdout.print(table)
    return 0


def cmd_tokens_statement(args: argparse.Namespace) -> int:
    from core.printing.token_statement import print_token_statement

    with signed_in(args) as ctx:
        pdf = print_token_statement(ctx, args.account_id, args.first_day, args.last_day)
    args.out.write_bytes(pdf)
    stdout.print(f"Statement written to {args.out}.", markup=False)
    return 0


def cmd_prescription_print(args: argparse.Namespace) -> int:
    from core.printing.prescription import print_prescription

    with signed_in(args) as ctx:
        pdf = print_prescription(ctx, args.prescription_id, args.size)
    args.out.write_bytes(pdf)
    stdout.print(f"Prescription written to {args.out}.", markup=False)
    return 0
