"""The CD register: supplies entered with dispensings, receipts, corrections, the running balance, append-only."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.dispensing.cd_register import record_correction, record_receipt, register_entries, register_products
from core.dispensing.model import DispensingRefused, SupplyLine
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import NotFound, PermissionDenied, ValidationError
from core.storage.models import AuditEvent, CdRegisterEntry, Patient
from tests.clinic import Clinic
from tests.prescribing_helpers import vmp_with_schedule
from tests.test_dispensing import (
    SCHEDULE_2,
    SCHEDULE_3,
    count,
    outbox_tables,
    ready,
    sign,
    written_counts,
)

SUPPLIER = "Alliance Healthcare, Leeds LS11 0ZZ"


@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    return ready(clinic)


def vmp_name(catalogue: Catalogue, vmp_id: str) -> str:
    return str(catalogue.conn.execute("SELECT nm FROM vmp WHERE vpid = ?", (int(vmp_id),)).fetchone()[0])


def test_running_balance_over_receipts_supplies_and_corrections(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    pharmacist = clinic.pharmacist
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    name = vmp_name(demo_catalogue, vmp)
    receipt = record_receipt(pharmacist, vmp, name, 100, SUPPLIER)
    assert (receipt.kind, receipt.quantity, receipt.balance, receipt.seq) == ("receipt", 100, 100, 1)

    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    clinic.clock.advance(hours=2)
    dispensed = dispense_items(pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    (entry_id,) = dispensed.cd_register_entry_ids

    clinic.clock.advance(days=1)
    wrong = record_receipt(pharmacist, vmp, name, 50, SUPPLIER)
    fix = record_correction(pharmacist, wrong.id, -5, "Delivery note said 50, box held 45")
    assert (fix.kind, fix.corrects_id, fix.quantity, fix.balance, fix.seq) == ("correction", wrong.id, -5, 117, 4)

    entries = register_entries(pharmacist, vmp)
    assert [(e.seq, e.kind, e.quantity, e.balance) for e in entries] == [
        (1, "receipt", 100, 100),
        (2, "supply", -28, 72),
        (3, "receipt", 50, 122),
        (4, "correction", -5, 117),
    ]
    supply_entry = entries[1]
    assert supply_entry.id == entry_id and supply_entry.dispensing_id == dispensed.dispensing_id
    assert (supply_entry.product_id, supply_entry.product_name) == (vmp, name)
    assert supply_entry.patient_id == patient.id
    assert (supply_entry.patient_name, supply_entry.patient_address) == ("Alice Jones", "3 Park Row\nLeeds\nLS1 5AB")
    assert (supply_entry.prescriber_name, supply_entry.prescriber_registration) == ("Dr Jane Smith", "1234567")
    assert supply_entry.entered_by == pharmacist.actor.user_id
    assert {e.organisation_id for e in entries} == {clinic.pharmacy.id}

    (product,) = register_products(pharmacist)
    assert (product.product_id, product.product_name, product.balance, product.entries) == (vmp, name, 117, 4)
    assert [e.seq for e in register_entries(pharmacist, vmp, start=date(2026, 3, 3))] == [3, 4]
    assert [e.seq for e in register_entries(pharmacist, vmp, end=date(2026, 3, 2))] == [1, 2]
    assert register_entries(pharmacist, "123") == []

    with clinic.database.reader() as session:
        actions = session.execute(select(AuditEvent.action).where(AuditEvent.action.like("cd_register.%")))
        assert list(actions.scalars()) == [
            "cd_register.receipt",
            "cd_register.supply",
            "cd_register.receipt",
            "cd_register.correction",
        ]
    assert [t for t in outbox_tables(clinic) if t[0] == "cd_register_entry"] == [("cd_register_entry", "create")] * 4


def test_only_schedule_2_supplies_are_entered(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, SCHEDULE_3)])
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    assert result.cd_register_entry_ids == () and count(clinic, CdRegisterEntry) == 0


def test_a_supply_below_zero_needs_a_reason(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    record_receipt(clinic.pharmacist, vmp, vmp_name(demo_catalogue, vmp), 10, SUPPLIER)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    item = rx.items[0]
    before = written_counts(clinic)
    with pytest.raises(DispensingRefused, match=r"balance of .* is 10: supplying 28 would leave -18") as refused:
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item.id, 28)])
    assert written_counts(clinic) == before
    (warning,) = refused.value.results
    reason = "Delivery arrived this morning, not booked in yet"
    result = dispense_items(
        clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item.id, 28)], overrides={warning.key: reason}
    )
    assert [w.rule for w in result.overrides] == ["cd_balance_negative"]
    assert [e.balance for e in register_entries(clinic.pharmacist, vmp)] == [10, -18]


def test_entries_are_never_updated_or_deleted(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    entry = record_receipt(clinic.pharmacist, vmp, vmp_name(demo_catalogue, vmp), 100, SUPPLIER)
    raw = sqlite3.connect(clinic.database.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE cd_register_entry SET quantity = '1000' WHERE id = ?", (entry.id,))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM cd_register_entry WHERE id = ?", (entry.id,))
    finally:
        raw.close()
    assert [e.quantity for e in register_entries(clinic.pharmacist, vmp)] == [Decimal(100)]


def test_receipts_and_corrections_are_checked(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    pharmacist = clinic.pharmacist
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    name = vmp_name(demo_catalogue, vmp)
    for bad in ((vmp, name, 0, SUPPLIER), (vmp, name, 10, "  "), ("VMP-1", name, 10, SUPPLIER), (vmp, "", 1, "x")):
        with pytest.raises(ValidationError):
            record_receipt(pharmacist, *bad)
    entry = record_receipt(pharmacist, vmp, name, "2.5", SUPPLIER)
    with pytest.raises(ValidationError, match="Say why"):
        record_correction(pharmacist, entry.id, 1, " oops ")
    with pytest.raises(ValidationError, match="other than 0"):
        record_correction(pharmacist, entry.id, 0, "Counted again")
    with pytest.raises(NotFound):
        record_correction(pharmacist, "0" * 32, 1, "Counted again")
    assert count(clinic, CdRegisterEntry) == 1


def test_the_register_is_the_pharmacists(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_2)
    entry = record_receipt(clinic.pharmacist, vmp, vmp_name(demo_catalogue, vmp), 10, SUPPLIER)
    for ctx in (clinic.technician, clinic.prescriber, clinic.admin):
        with pytest.raises(PermissionDenied):
            record_receipt(ctx, vmp, "x", 10, SUPPLIER)
        with pytest.raises(PermissionDenied):
            record_correction(ctx, entry.id, 1, "Counted again")
        with pytest.raises(PermissionDenied):
            register_entries(ctx, vmp)
        with pytest.raises(PermissionDenied):
            register_products(ctx)
