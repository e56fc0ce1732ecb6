"""Checking a scanned pack against the prescribed product before it is supplied.

A pack (AMPP) matches a VMP item when its AMP or its VMPP belongs to that VMP (dm+d links both to the same VMP;
either link is accepted so one broken link in a release does not refuse the right pack). An item that names an
AMP (a brand) needs a pack of that AMP. The prescribed ids are a snapshot: an id a later release replaced is
followed to the current one before a pack is refused.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.context import ServiceContext
from core.dispensing.values import qty, uk_date
from core.dmd.catalogue import Catalogue, GtinMatch
from core.dmd.errors import DmdError, InvalidGtinError
from core.dmd.gtin import validate_gtin
from core.rules.model import Outcome, RuleResult
from core.storage.models import PrescriptionItem
from core.users.roles import Permission, require

RULE_OK = "gtin_ok"
RULE_INVALID = "gtin_invalid"
RULE_UNKNOWN = "gtin_unknown"
RULE_WRONG_PRODUCT = "gtin_wrong_product"
RULE_END_DATED = "gtin_end_dated"
RULE_INVALID_PACK = "pack_invalid"


@dataclass(frozen=True)
class ScanResult:
    outcome: Outcome
    message: str
    rule: str
    item_id: str
    gtin: str  # 14 digits when it was a valid GTIN, else as scanned
    ampp_id: str | None = None
    pack_name: str | None = None
    pack_quantity: Decimal | None = None  # how much one pack holds, in pack_unit (dm+d VMPP quantity)
    pack_unit: str | None = None
    end_date: date | None = None  # of the barcode, when end-dated

    @property
    def key(self) -> str:
        """What an override reason is given under (as for signing: the rule and the item)."""
        return f"{self.rule}:{self.item_id}"

    def as_rule_result(self) -> RuleResult:
        return RuleResult(self.rule, self.outcome, self.message, self.item_id)


@dataclass(frozen=True)
class _Pack:
    match: GtinMatch
    name: str | None
    apid: str | None
    vmp_ids: frozenset[str]  # the VMP of its AMP and of its VMPP (normally one)
    quantity: Decimal | None
    unit: str | None
    invalid: bool = False  # the pack's dm+d record is marked invalid


def verify_scan(ctx: ServiceContext, catalogue: Catalogue, item: PrescriptionItem, gtin: str) -> ScanResult:
    """Is the pack with this barcode a pack of the prescribed product? Technicians and pharmacists may scan."""
    require(ctx, Permission.ASSEMBLE)
    return check_pack(catalogue, item, gtin)


def check_pack(catalogue: Catalogue, item: PrescriptionItem, gtin: str) -> ScanResult:
    """``verify_scan`` without the role check, for services that have checked a stronger permission."""
    scanned = gtin.strip()
    try:
        gtin14 = validate_gtin(scanned)
        matches = catalogue.find_gtin(gtin14)
    except InvalidGtinError as exc:
        message = f"{exc} Scan it again, or check the pack against the prescription by hand."
        return ScanResult(Outcome.BLOCK, message, RULE_INVALID, item.id, scanned)
    packs = [_pack(catalogue, m) for m in matches]
    if not packs:
        message = (
            f"Barcode {scanned} is not in the medicines catalogue (a new pack, or a newer catalogue is needed): "
            f"check the pack against the prescription for {item.product_name} by hand."
        )
        return ScanResult(Outcome.BLOCK, message, RULE_UNKNOWN, item.id, gtin14)
    right = [p for p in packs if _matches(catalogue, item, p)]
    if not right:
        scanned_name = packs[0].name or f"pack {packs[0].match.ampp_id}, which this catalogue does not describe"
        message = f"Wrong product: the pack scanned is {scanned_name}, but the prescription is for {item.product_name}."
        return ScanResult(Outcome.BLOCK, message, RULE_WRONG_PRODUCT, item.id, gtin14, *_details(packs[0]))
    pack = right[0]  # find_gtin lists current barcodes before end-dated ones
    if pack.match.end_date:
        end = date.fromisoformat(pack.match.end_date)
        message = (
            f"This barcode was end-dated on {uk_date(end)}: check the pack really is {pack.name} before supplying it."
        )
        return ScanResult(Outcome.WARN, message, RULE_END_DATED, item.id, gtin14, *_details(pack), end)
    if pack.invalid:
        message = f"{pack.name} is marked invalid in dm+d: check the pack before supplying it, or give a reason."
        return ScanResult(Outcome.WARN, message, RULE_INVALID_PACK, item.id, gtin14, *_details(pack))
    return ScanResult(Outcome.ALLOW, f"{pack.name}{_size(pack)}.", RULE_OK, item.id, gtin14, *_details(pack))


def _size(pack: _Pack) -> str:
    if pack.quantity is None:
        return ""
    return f": {qty(pack.quantity)} {pack.unit} per pack" if pack.unit else f": {qty(pack.quantity)} per pack"


def _details(pack: _Pack) -> tuple[str, str | None, Decimal | None, str | None]:
    return str(pack.match.ampp_id), pack.name, pack.quantity, pack.unit


def _pack(catalogue: Catalogue, match: GtinMatch) -> _Pack:
    row: sqlite3.Row | None = catalogue.conn.execute(
        "SELECT ap.nm, ap.apid, ap.invalid, a.vpid AS amp_vpid, vp.vpid AS vmpp_vpid, vp.qtyval, vp.qty_uomcd "
        "FROM ampp ap LEFT JOIN amp a ON a.apid = ap.apid LEFT JOIN vmpp vp ON vp.vppid = ap.vppid "
        "WHERE ap.appid = ?",
        (match.ampp_id,),
    ).fetchone()
    if row is None:
        return _Pack(match, match.ampp_name, None, frozenset(), None, None)
    vmp_ids = frozenset(str(v) for v in (row["amp_vpid"], row["vmpp_vpid"]) if v is not None)
    quantity = Decimal(str(row["qtyval"])).normalize() if row["qtyval"] is not None else None
    unit = catalogue.lookup("UNIT_OF_MEASURE", str(row["qty_uomcd"])) if row["qty_uomcd"] else None
    return _Pack(match, row["nm"], str(row["apid"]), vmp_ids, quantity, unit, row["invalid"] == 1)


def _matches(catalogue: Catalogue, item: PrescriptionItem, pack: _Pack) -> bool:
    if item.amp_id:
        return pack.apid is not None and (pack.apid == item.amp_id or pack.apid == _current_id(catalogue, item.amp_id))
    return item.vmp_id in pack.vmp_ids or _current_id(catalogue, item.vmp_id) in pack.vmp_ids


def _current_id(catalogue: Catalogue, product_id: str) -> str | None:
    """The current id of a product a later release may have replaced (None when the catalogue lacks it)."""
    try:
        return str(catalogue.resolve_id(product_id).id)
    except DmdError:
        return None
