"""What every ``rxdesk`` command shares: its consoles, its one-line error, and signing in."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

from core.dmd.catalogue import Catalogue
from core.errors import RxDeskError
from core.paths import data_dir, replica_path

if TYPE_CHECKING:
    from core.context import ServiceContext  # SQLAlchemy loads only when a command signs in

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class CommandError(Exception):
    """A user-facing failure of a command: printed as one line."""


@contextmanager
def signed_in(args: argparse.Namespace) -> Iterator[ServiceContext]:
    """Open the app database and sign in (password from $RXDESK_PASSWORD, else asked); RxDeskError → one line."""
    from core.settings import workstation_name
    from core.storage.database import APP_DATABASE_NAME, open_database
    from core.users.service import sign_in

    try:
        username = args.user or os.environ.get("RXDESK_USER") or getpass.getuser()
    except (KeyError, OSError):
        raise CommandError("Who is signing in? Give --user NAME.") from None
    try:
        database = open_database(data_dir(args.data_dir) / APP_DATABASE_NAME)
    except RxDeskError as exc:
        raise CommandError(str(exc)) from exc
    try:
        secret = os.environ.get("RXDESK_PASSWORD")
        if secret is None:
            try:
                secret = getpass.getpass(f"Password for {username}: ")
            except EOFError:
                raise CommandError("No password was given (set RXDESK_PASSWORD in scripts).") from None
        try:
            ctx = sign_in(database, username, secret, workstation_name(database))
        except RxDeskError as exc:
            raise CommandError(str(exc)) from exc
        yield ctx
    finally:
        database.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def open_catalogue(args: argparse.Namespace) -> Iterator[Catalogue]:
    with Catalogue(replica_path(data_dir(args.data_dir))) as catalogue:
        yield catalogue
