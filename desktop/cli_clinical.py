"""``rxdesk`` commands for the clinical work itself: prescriptions (write, check, sign, cancel, print), the
dispensing queue, dispensing and the CD register. Thin shells over ``core`` service functions."""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from desktop.cli_common import CommandError, open_catalogue, print_json, signed_in, stdout


def add_clinical_commands(groups: Any, with_user: argparse.ArgumentParser, rx: Any) -> None:
    """``rx`` is the ``prescription`` subparsers (cli_admin adds ``print`` to it)."""

    def command(group: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> Any:
        p = group.add_parser(name, parents=[with_user], help=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command(rx, "new", cmd_new, "start a draft prescription for a patient (prints its id)")
    p.add_argument("patient_id")
    p.add_argument("--start", type=date.fromisoformat, help="not to be dispensed before (YYYY-MM-DD)")
    p.add_argument("--repeat", type=int, help="number of issues of a repeat prescription")
    p.add_argument("--interval", type=int, help="days between repeat issues")
    p = command(rx, "add", cmd_add, "add a VMP or AMP to a draft")
    p.add_argument("prescription_id")
    p.add_argument("product_id", help="dm+d id of the VMP or AMP")
    p.add_argument("--dose", required=True)
    p.add_argument("--directions", required=True)
    p.add_argument("--quantity", required=True, help="in the product's dm+d unit")
    p.add_argument("--days", type=int, help="days' supply")
    p.add_argument("--words", help="total quantity in words (Schedule 2/3; filled from the figures if not given)")
    p = command(rx, "check", cmd_check, "what the UK prescribing rules say about a draft")
    p.add_argument("prescription_id")
    p = command(rx, "sign", cmd_sign, "sign a draft (PIN from $RXDESK_PIN, else asked)")
    p.add_argument("prescription_id")
    p.add_argument("--override", action="append", default=[], metavar="KEY=REASON", help="a warning's reason")
    p = command(rx, "show", cmd_show, "a prescription and its items")
    p.add_argument("prescription_id")
    p.add_argument("--json", action="store_true")
    p = command(rx, "cancel", cmd_cancel, "cancel a prescription (a reason is required)")
    p.add_argument("prescription_id")
    p.add_argument("--reason", required=True)
    p.add_argument("--whole-batch", action="store_true", help="with the later issues of its repeat")
    p = command(rx, "queue", cmd_queue, "signed prescriptions that can be dispensed today")
    p.add_argument("--json", action="store_true")

    p = command(groups, "dispense", cmd_dispense, "supply items of a signed prescription")
    p.add_argument("prescription_id")
    p.add_argument("lines", nargs="+", metavar="ITEM_ID=QUANTITY[@GTIN]", help="what is supplied, and the pack")
    p.add_argument("--override", action="append", default=[], metavar="KEY=REASON")

    register = groups.add_parser("cd-register", help="the controlled drugs register").add_subparsers(dest="command")
    register.required = True
    p = command(register, "receipt", cmd_cd_receipt, "book stock of a Schedule 2 drug in")
    p.add_argument("product_id", help="dm+d id of the VMP")
    p.add_argument("--quantity", required=True)
    p.add_argument("--supplier", required=True)
    p = command(register, "print", cmd_cd_print, "one drug's register as PDF")
    p.add_argument("product_id")
    p.add_argument("--out", type=Path, required=True)


def add_patient_commands(patient: Any, with_user: argparse.ArgumentParser) -> None:
    """``patient add`` and ``patient allergy`` join the ``patient`` subparsers (import and search live in cli.py)."""
    p = patient.add_parser("add", parents=[with_user], help="register a patient (prints the id)")
    p.add_argument("--given", required=True)
    p.add_argument("--family", required=True)
    p.add_argument("--born", required=True, help="date of birth, YYYY-MM-DD or DD/MM/YYYY")
    for option in ("--nhs-number", "--title", "--sex", "--address", "--postcode", "--phone", "--email"):
        p.add_argument(option)
    p.add_argument(
        "--notify-by",
        choices=["email", "sms", "both", "none"],
        default="none",
        help="how the patient wants to hear that a prescription is signed, dispensed or ready",
    )
    p.add_argument("--consent", action="store_true", help="the patient agrees to be told that way (recorded as yours)")
    p.add_argument("--not-a-duplicate", action="store_true", help="confirm a patient with the same name and birth")
    p.set_defaults(handler=cmd_patient_add)
    p = patient.add_parser("allergy", parents=[with_user], help="record an allergy or intolerance")
    p.add_argument("patient_id")
    p.add_argument("substance_id", help="dm+d id of the ingredient or VTM")
    p.add_argument("--kind", choices=["allergy", "intolerance"], default="allergy")
    p.add_argument("--severity", choices=["mild", "moderate", "severe"], required=True)
    p.add_argument("--reaction", required=True)
    p.set_defaults(handler=cmd_patient_allergy)


def cmd_patient_add(args: argparse.Namespace) -> int:
    from core.patients.csv_format import parse_date
    from core.patients.records import PatientDetails, create_patient

    born = parse_date(args.born)  # a FieldError (one line) when it is not a date
    details = PatientDetails(
        given_name=args.given, family_name=args.family, date_of_birth=born, nhs_number=args.nhs_number,
        title=args.title, sex=args.sex, address=args.address, postcode=args.postcode, phone=args.phone,
        email=args.email, notify_by=args.notify_by, consent=args.consent,
    )  # fmt: skip
    with signed_in(args) as ctx:
        patient = create_patient(ctx, details, confirm_possible_duplicate=args.not_a_duplicate)
    stdout.print(patient.id, markup=False)
    return 0


def cmd_patient_allergy(args: argparse.Namespace) -> int:
    from core.patients.allergies import record_allergy

    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        allergy = record_allergy(
            ctx, args.patient_id, catalogue, args.substance_id, args.kind, args.reaction, args.severity
        )
    stdout.print(f"Recorded: {allergy.kind} to {allergy.substance_name} ({allergy.severity}).", markup=False)
    return 0


def _overrides(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, reason = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--override {pair!r}: write it as KEY=REASON, the key as printed by the check.")
        overrides[key.strip()] = reason
    return overrides


def cmd_new(args: argparse.Namespace) -> int:
    from core.prescriptions.drafting import create_prescription

    with signed_in(args) as ctx:
        rx = create_prescription(
            ctx, args.patient_id, not_before=args.start, repeat_total=args.repeat, repeat_interval_days=args.interval
        )
    stdout.print(rx.id, markup=False)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from core.prescriptions.drafting import add_item

    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        item = add_item(
            ctx, catalogue, args.prescription_id, args.product_id, dose=args.dose, directions=args.directions,
            quantity=args.quantity, days_supply=args.days, quantity_in_words_text=args.words,
        )  # fmt: skip
    stdout.print(f"{item.id}  {item.product_name}: {item.quantity} {item.unit}", markup=False)
    return 0


def _print_findings(results: list[Any]) -> None:
    for result in results:
        stdout.print(f"{result.outcome.value.upper():5}  {result.key}  {result.message}", markup=False)


def cmd_check(args: argparse.Namespace) -> int:
    from core.prescriptions.checks import check_prescription

    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        results = check_prescription(ctx, catalogue, args.prescription_id)
    if not results:
        stdout.print("Every rule is satisfied: the prescription can be signed.")
    _print_findings(results)
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    from core.prescriptions.signing import sign_prescription
    from core.rules.model import RulesNotSatisfied

    overrides = _overrides(args.override)
    pin = os.environ.get("RXDESK_PIN")
    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        if pin is None:
            try:
                pin = getpass.getpass("Your PIN, to sign: ")
            except EOFError:
                raise CommandError("No PIN was given (set RXDESK_PIN in scripts).") from None
        try:
            signed = sign_prescription(ctx, catalogue, args.prescription_id, pin, overrides)
        except RulesNotSatisfied as exc:
            _print_findings(exc.results)
            raise
    issues = len(signed.prescription_ids)
    what = f"{issues} issues" if issues > 1 else "1 prescription"
    stdout.print(f"Signed {what} for {signed.token_cost} tokens: {' '.join(signed.prescription_ids)}", markup=False)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from core.outbox import row_payload
    from core.prescriptions.queries import get_prescription
    from core.users.roles import Permission, require

    with signed_in(args) as ctx:
        require(ctx, Permission.VIEW_PRESCRIPTIONS)
        with ctx.database.reader() as session:
            rx = get_prescription(session, args.prescription_id)
            data = row_payload(rx) | {"items": [row_payload(item) for item in rx.items]}
    if args.json:
        print_json(data)
        return 0
    stdout.print(f"{rx.id}  {rx.status}  valid until {rx.valid_until or '-'}", markup=False)
    table = Table("item", "product", "quantity", "supplied", "dose", "status")
    for item in rx.items:
        table.add_row(item.id, item.product_name, f"{item.quantity} {item.unit}", str(item.quantity_supplied),
                      item.dose, item.status)  # fmt: skip
    stdout.print(table)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from core.prescriptions.lifecycle import cancel_prescription

    with signed_in(args) as ctx:
        cancel_prescription(ctx, args.prescription_id, args.reason, whole_batch=args.whole_batch)
    stdout.print("Cancelled.")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from core.dispensing.queries import dispensing_queue

    with signed_in(args) as ctx:
        queue = dispensing_queue(ctx)
    rows = [
        {"id": rx.id, "status": rx.status, "signed_at": rx.signed_at, "items": [i.product_name for i in rx.items]}
        for rx in queue
    ]
    if args.json:
        print_json(rows)
    elif not rows:
        stdout.print("Nothing is waiting to be dispensed.")
    else:
        for row in rows:
            stdout.print(f"{row['id']}  {row['status']}  {'; '.join(row['items'])}", markup=False)
    return 0


def _supply_lines(texts: list[str]) -> list[Any]:
    from core.dispensing.model import SupplyLine

    lines = []
    for text in texts:
        item_id, sep, rest = text.partition("=")
        quantity, _, gtin = rest.partition("@")
        if not sep or not quantity:
            raise CommandError(f"{text!r}: write each line as ITEM_ID=QUANTITY or ITEM_ID=QUANTITY@GTIN.")
        lines.append(SupplyLine(item_id.strip(), quantity.strip(), gtin.strip() or None))
    return lines


def cmd_dispense(args: argparse.Namespace) -> int:
    from core.dispensing.model import DispensingRefused
    from core.dispensing.supply import dispense_items

    lines = _supply_lines(args.lines)
    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        try:
            result = dispense_items(ctx, catalogue, args.prescription_id, lines, overrides=_overrides(args.override))
        except DispensingRefused as exc:
            _print_findings(exc.results)
            raise
    stdout.print(f"Dispensed ({result.prescription_status}): {result.dispensing_id}", markup=False)
    for owing in result.owings:
        stdout.print(f"Owed: {owing.quantity} {owing.unit} of {owing.product_name}, until {owing.expires_on}",
                     markup=False)  # fmt: skip
    return 0


def cmd_cd_receipt(args: argparse.Namespace) -> int:
    from core.dispensing.cd_register import record_receipt
    from core.prescriptions.products import product_snapshot

    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        product = product_snapshot(catalogue, args.product_id)
        entry = record_receipt(ctx, product.vmp_id, product.name, args.quantity, args.supplier)
    stdout.print(f"Booked in: balance {entry.balance} {product.unit}.", markup=False)
    return 0


def cmd_cd_print(args: argparse.Namespace) -> int:
    from core.printing.cd_register import print_cd_register

    with signed_in(args) as ctx, open_catalogue(args) as catalogue:
        pdf = print_cd_register(ctx, catalogue, args.product_id)
    args.out.write_bytes(pdf)
    stdout.print(f"Register written to {args.out}.", markup=False)
    return 0
