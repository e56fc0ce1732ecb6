"""Planning a dispensing: every check, and every read, before anything is written.

The user sees every problem at once (wrong packs and warnings together), and the writing that follows makes no
read, so the whole dispensing is flushed once, at commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.audit.log import load_chain_head
from core.context import ServiceContext
from core.dispensing import cd_register
from core.dispensing.model import DispensingRefused, SupplyLine
from core.dispensing.owings import open_owings
from core.dispensing.scan import ScanResult, check_pack
from core.dispensing.values import qty, uk_date
from core.dmd.catalogue import Catalogue
from core.errors import InvalidTransition, ValidationError
from core.prescriptions.status import ACTIVE, PrescriptionStatus
from core.rules.model import MIN_OVERRIDE_REASON, Outcome, RuleResult
from core.rules.validity import item_valid_until
from core.storage.models import Owing, Prescription, PrescriptionItem

MAX_REASON = 500  # characters kept with an override


@dataclass
class Plan:
    """What one dispensing will do, worked out and checked before anything is written."""

    rx: Prescription
    lines: list[tuple[PrescriptionItem, Decimal, ScanResult | None]]
    totals: dict[str, Decimal]  # item id -> quantity supplied now
    owings: dict[str, Owing]  # item id -> its open owing, before this dispensing
    warnings: list[RuleResult]
    register_items: list[PrescriptionItem]  # supplied now and entered in the CD register
    particulars: cd_register.SupplyParticulars | None  # read when there are register entries to write


def plan_dispensing(
    session: Session,
    ctx: ServiceContext,
    catalogue: Catalogue,
    rx: Prescription,
    organisation_id: str,
    lines: Sequence[SupplyLine],
    amounts: list[Decimal],
) -> Plan:
    today = ctx.today()
    _check_state(rx)
    items = {item.id: item for item in rx.items}
    # Owings exist only after a first dispensing: a signed prescription needs no query for them.
    owings = open_owings(session, items) if rx.status != PrescriptionStatus.SIGNED else {}
    _check_dates(rx, owings, today)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    planned: list[tuple[PrescriptionItem, Decimal, ScanResult | None]] = []
    results: list[RuleResult] = []
    for line, amount in zip(lines, amounts, strict=True):
        item = items.get(line.item_id)
        if item is None:
            raise ValidationError("One of the lines is for an item that is not on this prescription.")
        totals[item.id] += amount
        scan = check_pack(catalogue, item, line.gtin) if line.gtin and line.gtin.strip() else None
        if scan is not None and scan.outcome is not Outcome.ALLOW:
            results.append(scan.as_rule_result())
        planned.append((item, amount, scan))
    for item_id, total in totals.items():
        _check_item(items[item_id], total, owings.get(item_id), rx, today)
    results += _register_warnings(session, catalogue, organisation_id, items, totals)
    blocks = [r for r in results if r.outcome is Outcome.BLOCK]
    if blocks:
        raise DispensingRefused(blocks)
    register_items = [i for i in rx.items if i.id in totals and cd_register.in_register(i.cd_schedule)]
    particulars = None
    if register_items:
        particulars = cd_register.supply_particulars(session, rx.id)
    load_chain_head(session)  # every read before the first write: the whole dispensing is flushed once, at commit
    return Plan(rx, planned, dict(totals), owings, _unique(results), register_items, particulars)


_STATE_WORDS = {PrescriptionStatus.DRAFT: "a draft (not signed)", PrescriptionStatus.DISPENSED: "already dispensed"}


def _check_state(rx: Prescription) -> None:
    if rx.status not in ACTIVE:
        state = _STATE_WORDS.get(PrescriptionStatus(rx.status), rx.status)
        raise InvalidTransition(f"This prescription is {state}: only signed prescriptions can be dispensed.")


def _check_dates(rx: Prescription, owings: dict[str, Owing], today: date) -> None:
    """Not before the appropriate date; not after the last valid day (an owing's own expiry is checked per item)."""
    if rx.appropriate_date is None or rx.valid_until is None:
        raise InvalidTransition("This prescription has not been signed.")
    if today < rx.appropriate_date:
        raise InvalidTransition(f"This prescription cannot be dispensed before {uk_date(rx.appropriate_date)}.")
    if today > rx.valid_until and not owings:
        raise InvalidTransition(_expired(rx.valid_until))


def _expired(last_day: date) -> str:
    return f"This prescription was valid until {uk_date(last_day)}: it has expired and can no longer be dispensed."


def _check_item(item: PrescriptionItem, total: Decimal, owing: Owing | None, rx: Prescription, today: date) -> None:
    outstanding = item.quantity - item.quantity_supplied
    if outstanding <= 0:
        raise ValidationError(f"{item.product_name} has already been supplied in full.")
    if total > outstanding:
        raise ValidationError(
            f"Only {qty(outstanding)} {item.unit} of {item.product_name} is still to be supplied: "
            f"{qty(total)} is too much."
        )
    if owing is not None and today > owing.expires_on:
        why = " (Schedule 2, 3 and 4 owings end 28 days after the appropriate date)"
        cd = why if item.cd_schedule in (2, 3, 4) else ""
        raise InvalidTransition(
            f"The owing of {item.product_name} expired on {uk_date(owing.expires_on)}{cd}: "
            "it can no longer be supplied against this prescription."
        )
    if owing is None and rx.appropriate_date is not None:
        last_day = item_valid_until(rx.appropriate_date, item.cd_schedule)
        if today > last_day:
            why = (
                " (Schedule 2, 3 and 4 controlled drugs are valid for 28 days)" if item.cd_schedule in (2, 3, 4) else ""
            )
            raise InvalidTransition(
                f"{item.product_name} was valid until {uk_date(last_day)}{why}: it can no longer be supplied."
            )


def _register_warnings(
    session: Session,
    catalogue: Catalogue,
    organisation_id: str,
    items: dict[str, PrescriptionItem],
    totals: dict[str, Decimal],
) -> list[RuleResult]:
    balances: dict[str, Decimal] = {}
    warnings = []
    for item_id, total in totals.items():
        item = items[item_id]
        if not cd_register.in_register(item.cd_schedule):
            continue
        if item.vmp_id not in balances:
            balances[item.vmp_id] = cd_register.balance_of(session, organisation_id, item.vmp_id)
        name = register_name(catalogue, item)
        warning = cd_register.negative_balance_warning(name, balances[item.vmp_id], total, item.id)
        if warning is not None:
            warnings.append(warning)
        balances[item.vmp_id] -= total
    return warnings


def register_name(catalogue: Catalogue, item: PrescriptionItem) -> str:
    """The register is per VMP: its name, even when a brand was prescribed (the snapshot if the VMP is gone)."""
    row = catalogue.conn.execute("SELECT nm FROM vmp WHERE vpid = ?", (int(item.vmp_id),)).fetchone()
    return str(row[0]) if row and row[0] else item.product_name


def _unique(results: list[RuleResult]) -> list[RuleResult]:
    """One warning per key (two end-dated packs of one item need one reason)."""
    seen: dict[str, RuleResult] = {}
    for result in results:
        seen.setdefault(result.key, result)
    return list(seen.values())


def refuse_unresolved(warnings: list[RuleResult], reasons: Mapping[str, str]) -> None:
    """Every warning needs a reason of at least MIN_OVERRIDE_REASON characters under its key."""
    unresolved = [w for w in warnings if len(reasons.get(w.key, "")) < MIN_OVERRIDE_REASON]
    if unresolved:
        raise DispensingRefused(unresolved)
    if any(len(reasons[w.key]) > MAX_REASON for w in warnings):
        raise ValidationError(f"Give each reason in at most {MAX_REASON} characters.")
