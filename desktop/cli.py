"""The ``rxdesk`` command: the GUI without arguments, the catalogue commands with them.

This module imports no Qt: the GUI is imported only when it is started, so the command line stays quick and
works on machines without a display. Errors are one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.dmd.build import BuildResult
from core.dmd.detail_text import detail_lines
from core.dmd.errors import DmdError
from core.dmd.replica import import_release
from core.errors import RxDeskError
from core.paths import data_dir
from desktop.cli_admin import add_admin_commands
from desktop.cli_clinical import add_clinical_commands, add_patient_commands
from desktop.cli_common import CommandError, open_catalogue, print_json, signed_in, stderr, stdout
from desktop.cli_kiosk import KIOSK_WORKSPACES, add_kiosk_commands
from desktop.cli_sync import add_sync_commands

if TYPE_CHECKING:
    pass

EXIT_ERROR = 1


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand without --data-dir keeps the value given before it (rxdesk --data-dir X dmd info).
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="data directory (default: the user data dir, or $RXDESK_HOME)",
    )
    parser = argparse.ArgumentParser(prog="rxdesk", description="RxDesk: prescribing and dispensing, offline.")
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kiosk", action="store_true", help="start the locked-down kiosk")
    parser.add_argument(
        "--kiosk-workspace",
        choices=KIOSK_WORKSPACES,
        help="the one workspace the kiosk shows (default: this workstation's setting, else counter)",
    )
    parser.add_argument(
        "--check-start",
        action="store_true",
        help="start as usual, then quit: exit 0 once the sign-in window is shown and the catalogue is ready (built "
        "first on a first start), else 1 with the reason (for installers and support)",
    )
    parser.add_argument(
        "--check-card-form",
        action="store_true",
        help="show the embedded card form's page offscreen, then quit: exit 0 if Qt WebEngine shows it, else 1 "
        "with the reason (the top-up then opens in the web browser)",
    )
    groups = parser.add_subparsers(dest="group")
    dmd = groups.add_parser("dmd", help="the NHS dm+d medicines catalogue").add_subparsers(dest="command")
    dmd.required = True

    p = dmd.add_parser("import", parents=[common], help="build the catalogue from a release zip or folder")
    p.add_argument("path", type=Path)
    p.add_argument("--bonus", type=Path, help="the supplementary (bonus) release zip")
    p.set_defaults(handler=cmd_import)

    p = dmd.add_parser("info", parents=[common], help="the installed release and record counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = dmd.add_parser("search", parents=[common], help="search medicines by name")
    p.add_argument("text")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--all", action="store_true", help="include invalid, discontinued and unavailable items")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_search)

    p = dmd.add_parser("show", parents=[common], help="product detail by dm+d id (previous ids resolve)")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = dmd.add_parser("gtin", parents=[common], help="the pack(s) with a barcode")
    p.add_argument("code")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_gtin)

    p = dmd.add_parser("update", parents=[common], help="download and install the newest release from TRUD")
    p.add_argument("--no-bonus", action="store_true", help="skip the supplementary (bonus) release")
    p.set_defaults(handler=cmd_update)

    p = dmd.add_parser("set-trud-key", parents=[common], help="store the TRUD API key in the OS keyring")
    p.set_defaults(handler=cmd_set_trud_key)

    signed_in_parser = argparse.ArgumentParser(add_help=False, parents=[common])
    signed_in_parser.add_argument(
        "--user",
        help="user name to sign in as (default: $RXDESK_USER, else your login name); password from "
        "$RXDESK_PASSWORD or asked",
    )
    patient = groups.add_parser("patient", help="patients: import and search").add_subparsers(dest="command")
    patient.required = True

    p = patient.add_parser("import", parents=[signed_in_parser], help="import patients from a CSV file")
    p.add_argument("file", type=Path)
    p.add_argument("--mapping", type=Path, help='JSON naming the CSV columns, e.g. {"given_name": "Forename"}')
    p.add_argument("--report", type=Path, help="write the per-row report to this CSV file")
    p.set_defaults(handler=cmd_patient_import)

    p = patient.add_parser(
        "search", parents=[signed_in_parser], help="find patients by name, NHS number, DOB or postcode"
    )
    p.add_argument("text")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_patient_search)
    add_patient_commands(patient, signed_in_parser)
    prescription = add_admin_commands(groups, common, signed_in_parser)
    add_clinical_commands(groups, signed_in_parser, prescription)
    add_kiosk_commands(groups, signed_in_parser)
    add_sync_commands(groups, common, signed_in_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.group is None and args.check_card_form:
            from desktop.card_form_check import check_card_form

            return check_card_form()
        if args.group is None:
            from desktop.app import run_gui  # Qt only when the GUI starts

            return run_gui(
                args.data_dir, kiosk=args.kiosk, kiosk_workspace=args.kiosk_workspace, check_start=args.check_start
            )
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (CommandError, DmdError, RxDeskError, OSError) as exc:
        stderr.print(f"rxdesk: {_one_line(exc)}", markup=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        stderr.print("rxdesk: interrupted.")
        return 130


def _one_line(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())


@contextmanager
def _progress_bar(transfer: bool = False) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on a terminal; nothing when output is redirected (scripts, CI)."""
    if not stderr.is_terminal:
        yield None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    if transfer:
        columns.insert(2, DownloadColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("Starting", total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        yield update


# -- commands ------------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    with _progress_bar() as progress:
        result = import_release(data_dir(args.data_dir), args.path, args.bonus, progress)
    _report_build(result)
    return 0


def _report_build(result: BuildResult, headline: str | None = None) -> None:
    info = result.info
    headline = headline or f"Installed {info.name} (released {info.release_date or 'date unknown'})."
    stdout.print(headline, markup=False)
    main_counts = ", ".join(f"{result.counts[t]:,} {t.upper()}" for t in ("vtm", "vmp", "vmpp", "amp", "ampp"))
    stdout.print(f"{main_counts}, {result.counts['gtin']:,} GTINs.", markup=False)
    for warning in result.warnings[:20]:
        stderr.print(f"warning: {warning}", markup=False)
    if len(result.warnings) > 20:
        stderr.print(f"warning: … and {len(result.warnings) - 20} more", markup=False)


def cmd_info(args: argparse.Namespace) -> int:
    with open_catalogue(args) as cat:
        info = cat.release()
        counts = cat.counts()
    if args.json:
        print_json({"release": info.as_dict(), "counts": counts})
        return 0
    table = Table(title="dm+d catalogue", show_header=False)
    for key, value in info.as_dict().items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    for key, count in counts.items():
        table.add_row(f"{key} records", f"{count:,}")
    stdout.print(table)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1.")
    with open_catalogue(args) as cat:
        hits = cat.search(args.text, limit=args.limit, include_hidden=args.all)
    if args.json:
        print_json([h.as_dict() for h in hits])
        return 0
    if not hits:
        stdout.print(f"No medicines match {args.text!r}.", markup=False)
        return 0
    table = Table("type", "id", "name", "status")
    for h in hits:
        table.add_row(h.type.upper(), str(h.id), h.name, h.status or "")
    stdout.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with open_catalogue(args) as cat:
        detail = cat.product_detail(args.id)
    if args.json:
        print_json(detail)
        return 0
    for line in detail_lines(detail):
        stdout.print(line, markup=False)
    return 0


def cmd_gtin(args: argparse.Namespace) -> int:
    with open_catalogue(args) as cat:
        matches = cat.find_gtin(args.code)
    if args.json:
        print_json([m.as_dict() for m in matches])
        return 0
    if not matches:
        stdout.print(f"No pack in the catalogue has the barcode {args.code}.", markup=False)
        return 0
    table = Table("gtin", "pack id", "pack", "valid from", "end-dated")
    for m in matches:
        table.add_row(
            m.gtin,
            str(m.ampp_id),
            m.ampp_name or "(pack not in this release)",
            m.start_date or "",
            m.end_date or "",
        )
    stdout.print(table)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from sync.catalogue_update import installed_release_sha256, trud_base_url
    from sync.secrets import SecretStoreError, get_trud_key
    from sync.trud import TrudError, update_catalogue

    data = data_dir(args.data_dir)
    try:
        key = get_trud_key()
    except SecretStoreError as exc:
        raise CommandError(str(exc)) from exc
    if not key:
        raise CommandError("No TRUD API key is stored: run `rxdesk dmd set-trud-key` first.")
    installed = installed_release_sha256(data)
    results: list[BuildResult] = []

    def install(main_zip: Path, bonus_zip: Path | None) -> BuildResult:
        with _progress_bar() as progress:
            result = import_release(data, main_zip, bonus_zip, progress)
        results.append(result)
        return result

    try:
        outcome = update_catalogue(
            data,
            key,
            install=install,
            installed_sha256=installed,
            include_bonus=not args.no_bonus,
            base_url=trud_base_url(),
        )
    except TrudError as exc:
        raise CommandError(str(exc)) from exc
    if results:
        _report_build(results[-1], outcome.message)
    else:
        stdout.print(outcome.message, markup=False)
    return 0


def cmd_set_trud_key(args: argparse.Namespace) -> int:
    from sync.secrets import SecretStoreError, set_trud_key

    if sys.stdin.isatty():
        key = getpass.getpass("TRUD API key (from your TRUD account page): ")
    else:
        key = sys.stdin.readline()
    if not key.strip():
        raise CommandError("No key was given; nothing was stored.")
    try:
        set_trud_key(key.strip())
    except SecretStoreError as exc:
        raise CommandError(str(exc)) from exc
    stdout.print("The TRUD API key is stored in the system keyring.")
    return 0


# -- patients ------------------------------------------------------------------------------------------

SHOWN_REJECTED_ROWS = 20


def cmd_patient_import(args: argparse.Namespace) -> int:
    from core.patients.csv_import import ColumnMapping, RowOutcome, import_patients_csv

    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file.")
    try:
        mapping = ColumnMapping.from_json(args.mapping) if args.mapping else None
        with signed_in(args) as ctx, _progress_bar() as progress:
            on_progress = (lambda done, total: progress("Importing patients", done, total)) if progress else None
            report = import_patients_csv(ctx, args.file, mapping, on_progress)
        if args.report:
            report.write_csv(args.report)
    except RxDeskError as exc:
        raise CommandError(str(exc)) from exc
    table = Table(title=f"Patient import: {args.file.name}", show_header=False)
    table.add_row("imported", f"{report.imported:,}")
    table.add_row("skipped: NHS number already on file or in the file", f"{report.duplicates:,}")
    table.add_row("skipped: possible duplicate (same name and date of birth)", f"{report.possible_duplicates:,}")
    table.add_row("rejected", f"{report.rejected:,}")
    table.add_row("rows read", f"{len(report.rows):,}")
    stdout.print(table)
    rejected = report.rows_with(RowOutcome.REJECTED)
    for row in rejected[:SHOWN_REJECTED_ROWS]:
        stdout.print(f"line {row.line}: {_one_line(Exception(row.message))}", markup=False)
    if len(rejected) > SHOWN_REJECTED_ROWS:
        more = len(rejected) - SHOWN_REJECTED_ROWS
        hint = f"; see {args.report}" if args.report else "; use --report FILE for all of them"
        stdout.print(f"… and {more} more rejected rows{hint}.", markup=False)
    if args.report:
        stdout.print(f"Report written to {args.report}.", markup=False)
    return 0


def cmd_patient_search(args: argparse.Namespace) -> int:
    from core.patients.search import search_patients
    from core.validation.nhs_number import format_nhs_number

    if args.limit < 1:
        raise CommandError("--limit must be at least 1.")
    with signed_in(args) as ctx:
        try:
            patients = search_patients(ctx, args.text, limit=args.limit)
        except RxDeskError as exc:
            raise CommandError(str(exc)) from exc
    if args.json:
        print_json(
            [
                {
                    "id": p.id,
                    "nhs_number": p.nhs_number,
                    "given_name": p.given_name,
                    "family_name": p.family_name,
                    "date_of_birth": p.date_of_birth.isoformat(),
                    "postcode": p.postcode,
                }
                for p in patients
            ]
        )
        return 0
    if not patients:
        stdout.print(f"No patients match {args.text!r}.", markup=False)
        return 0
    table = Table("name", "born", "NHS number", "postcode", "id")
    for p in patients:
        table.add_row(
            f"{p.family_name.upper()}, {p.given_name}",
            f"{p.date_of_birth:%d/%m/%Y}",
            format_nhs_number(p.nhs_number) if p.nhs_number else "",
            p.postcode or "",
            p.id,
        )
    stdout.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
