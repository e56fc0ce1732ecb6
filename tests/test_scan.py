"""Scanning a pack against a prescription item: right pack, wrong product, end-dated, unknown, malformed; roles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.dispensing.scan import ScanResult, verify_scan
from core.dmd.catalogue import Catalogue
from core.dmd.gtin import gtin_check_digit
from core.errors import PermissionDenied
from core.rules.model import Outcome
from core.storage.models import PrescriptionItem
from tests.clinic import Clinic
from tests.prescribing_helpers import vmp_with_schedule
from tests.test_dispensing import SCHEDULE_4, gtin_of, vmp_with_gtin


def item_of(catalogue: Catalogue, vmp_id: str, amp_id: str | None = None) -> PrescriptionItem:
    """An item as a signed prescription holds it (scanning reads only the snapshot, not the database)."""
    name = catalogue.conn.execute("SELECT nm FROM vmp WHERE vpid = ?", (int(vmp_id),)).fetchone()[0]
    if amp_id:
        name = catalogue.conn.execute("SELECT desc FROM amp WHERE apid = ?", (int(amp_id),)).fetchone()[0]
    return PrescriptionItem(id="1" * 32, vmp_id=vmp_id, amp_id=amp_id, product_name=name, unit="tablet")


def scan(clinic: Clinic, catalogue: Catalogue, item: PrescriptionItem, gtin: str) -> ScanResult:
    return verify_scan(clinic.technician, catalogue, item, gtin)


def test_a_pack_of_the_prescribed_vmp(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, None)
    item = item_of(demo_catalogue, vmp)
    gtin = gtin_of(demo_catalogue, vmp)
    result = scan(clinic, demo_catalogue, item, f" {gtin} ")
    (match,) = demo_catalogue.find_gtin(gtin)
    assert result.outcome is Outcome.ALLOW
    assert result.ampp_id == str(match.ampp_id) and result.pack_name == match.ampp_name
    size = demo_catalogue.conn.execute(
        "SELECT qtyval FROM vmpp JOIN ampp USING (vppid) WHERE appid = ?", (match.ampp_id,)
    ).fetchone()[0]
    assert result.pack_quantity == Decimal(str(size)) and result.pack_unit == "tablet"
    assert result.message == f"{match.ampp_name}: {size:g} tablet per pack."
    assert result.gtin == gtin.zfill(14)
    assert verify_scan(clinic.pharmacist, demo_catalogue, item, gtin).outcome is Outcome.ALLOW


def test_a_pack_of_another_product_blocks_naming_both(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    item = item_of(demo_catalogue, vmp_with_schedule(demo_catalogue, None))
    wrong = gtin_of(demo_catalogue, vmp_with_gtin(demo_catalogue, SCHEDULE_4))
    result = scan(clinic, demo_catalogue, item, wrong)
    pack_name = demo_catalogue.find_gtin(wrong)[0].ampp_name
    assert result.outcome is Outcome.BLOCK and result.rule == "gtin_wrong_product"
    assert result.message == (
        f"Wrong product: the pack scanned is {pack_name}, but the prescription is for {item.product_name}."
    )
    assert result.pack_name == pack_name  # shown to the dispenser beside the message


def test_a_branded_item_needs_a_pack_of_that_brand(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, None)
    gtin = gtin_of(demo_catalogue, vmp)
    ampp_id = demo_catalogue.find_gtin(gtin)[0].ampp_id
    own_amp = str(demo_catalogue.conn.execute("SELECT apid FROM ampp WHERE appid = ?", (ampp_id,)).fetchone()[0])
    other_amp = str(
        demo_catalogue.conn.execute(
            "SELECT apid FROM amp WHERE vpid = ? AND apid != ? ORDER BY apid LIMIT 1", (int(vmp), int(own_amp))
        ).fetchone()[0]
    )
    assert scan(clinic, demo_catalogue, item_of(demo_catalogue, vmp, own_amp), gtin).outcome is Outcome.ALLOW
    other = scan(clinic, demo_catalogue, item_of(demo_catalogue, vmp, other_amp), gtin)
    assert other.outcome is Outcome.BLOCK and "Wrong product" in other.message


def test_an_end_dated_barcode_warns_with_its_date(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, None)
    old = gtin_of(demo_catalogue, vmp, end_dated=True)
    (match,) = demo_catalogue.find_gtin(old)
    assert match.end_date
    year, month, day = match.end_date.split("-")
    result = scan(clinic, demo_catalogue, item_of(demo_catalogue, vmp), old)
    assert result.outcome is Outcome.WARN and result.rule == "gtin_end_dated"
    assert result.message.startswith(f"This barcode was end-dated on {day}/{month}/{year}:")
    assert result.key == f"gtin_end_dated:{'1' * 32}" and result.pack_name == match.ampp_name


def test_unknown_and_malformed_barcodes_block(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    item = item_of(demo_catalogue, vmp_with_schedule(demo_catalogue, None))
    body = "501234567890"
    unknown = body + str(gtin_check_digit(body))
    assert not demo_catalogue.find_gtin(unknown)
    result = scan(clinic, demo_catalogue, item, unknown)
    assert result.outcome is Outcome.BLOCK and result.rule == "gtin_unknown"
    assert f"Barcode {unknown} is not in the medicines catalogue" in result.message
    wrong_digit = body + str((gtin_check_digit(body) + 1) % 10)
    for malformed, why in ((wrong_digit, "check digit is wrong"), ("12345", "has 5 digits"), ("ABC", "only digits")):
        result = scan(clinic, demo_catalogue, item, malformed)
        assert result.outcome is Outcome.BLOCK and result.rule == "gtin_invalid"
        assert why in result.message and result.ampp_id is None


def test_scanning_needs_the_assemble_permission(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, None)
    item = item_of(demo_catalogue, vmp)
    for ctx in (clinic.prescriber, clinic.admin):
        with pytest.raises(PermissionDenied, match="scan and check packs"):
            verify_scan(ctx, demo_catalogue, item, gtin_of(demo_catalogue, vmp))


def test_an_invalid_pack_record_warns(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    row = demo_catalogue.conn.execute(
        "SELECT g.gtin, a.vpid, ap.nm FROM gtin g JOIN ampp ap ON ap.appid = g.amppid JOIN amp a ON a.apid = ap.apid "
        "WHERE ap.invalid = 1 AND g.enddt IS NULL LIMIT 1"
    ).fetchone()
    assert row, "the demo catalogue has an invalid pack with a current barcode"
    gtin, vpid, name = row
    result = scan(clinic, demo_catalogue, item_of(demo_catalogue, str(vpid)), str(gtin))
    assert result.outcome is Outcome.WARN and result.rule == "pack_invalid"
    assert f"{name} is marked invalid in dm+d" in result.message
