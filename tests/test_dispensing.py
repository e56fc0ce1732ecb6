"""Dispensing: full and partial supplies, owings and their expiry, dates, quantities, scanned packs, atomicity.

The helpers at the top are shared with test_scan.py and test_cd_register.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from core.context import ServiceContext
from core.dispensing import supply
from core.dispensing.model import DispensingRefused, ItemSupply, OwingStatus, SupplyLine
from core.dispensing.queries import dispensing_queue, find_for_dispensing, owings_of
from core.dispensing.supply import dispense_items
from core.dmd.catalogue import Catalogue
from core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.lifecycle import cancel_prescription, expire_prescriptions
from core.prescriptions.queries import get_prescription
from core.prescriptions.signing import sign_prescription
from core.storage.models import (
    AuditEvent,
    CdRegisterEntry,
    Dispensing,
    DispensingLine,
    OutboxEntry,
    Owing,
    Patient,
    Prescription,
    RuleOverride,
)
from tests.clinic import PRESCRIBER_PIN, Clinic
from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule

NOT_CD = None
SCHEDULE_2 = ("0002", "0003")
SCHEDULE_3 = ("0004", "0005", "0006", "0007")
SCHEDULE_4 = ("0008", "0009")


# -- shared helpers ---------------------------------------------------------------------------------------------
def ready(clinic: Clinic) -> Patient:
    """A funded clinic and a patient to prescribe for."""
    fund_clinic(clinic, tokens=100_000)
    return add_patient(clinic)


def sign(
    clinic: Clinic,
    catalogue: Catalogue,
    patient_id: str,
    products: Sequence[str],
    *,
    quantity: int = 28,
    not_before: date | None = None,
) -> Prescription:
    """A signed prescription of ``quantity`` of each product (duplicate-therapy warnings overridden)."""
    rx = create_prescription(clinic.prescriber, patient_id, not_before=not_before)
    overrides = {}
    for product in products:
        item = add_item(
            clinic.prescriber, catalogue, rx.id, product,
            dose="1 tablet twice daily", directions="Take one tablet twice a day", quantity=quantity, days_supply=14,
        )  # fmt: skip
        overrides[f"duplicate_ingredient:{item.id}"] = "separate test prescriptions"
    sign_prescription(clinic.prescriber, catalogue, rx.id, PRESCRIBER_PIN, overrides)
    return reload(clinic, rx.id)


def reload(clinic: Clinic, prescription_id: str) -> Prescription:
    with clinic.database.reader() as session:
        return get_prescription(session, prescription_id)


def gtin_of(catalogue: Catalogue, vmp_id: str, *, end_dated: bool = False) -> str:
    """A barcode of a pack of the VMP: current, or end-dated with no current row for the same code."""
    condition = "g.enddt IS NOT NULL" if end_dated else "g.enddt IS NULL"
    row = catalogue.conn.execute(
        "SELECT g.gtin FROM gtin g JOIN ampp ap ON ap.appid = g.amppid JOIN amp a ON a.apid = ap.apid "
        f"WHERE a.vpid = ? AND {condition} AND NOT EXISTS "
        "(SELECT 1 FROM gtin o WHERE o.gtin14 = g.gtin14 AND (o.enddt IS NULL) != (g.enddt IS NULL)) "
        "ORDER BY g.gtin LIMIT 1",
        (int(vmp_id),),
    ).fetchone()
    assert row, f"the demo catalogue has no {'end-dated' if end_dated else 'current'} barcode for VMP {vmp_id}"
    return str(row[0])


def vmp_with_gtin(catalogue: Catalogue, schedule_codes: tuple[str, ...]) -> str:
    """A usable VMP of these CD categories that has a current pack barcode."""
    marks = ",".join("?" * len(schedule_codes))
    row = catalogue.conn.execute(
        "SELECT v.vpid FROM vmp v JOIN control_info c USING (vpid) JOIN dform USING (vpid) "
        f"WHERE v.invalid IS NULL AND v.non_availcd IS NULL AND c.catcd IN ({marks}) "
        "AND EXISTS (SELECT 1 FROM vpi WHERE vpi.vpid = v.vpid AND vpi.strnt_nmrtr_val IS NOT NULL) "
        "AND EXISTS (SELECT 1 FROM amp a JOIN ampp ap ON ap.apid = a.apid JOIN gtin g ON g.amppid = ap.appid "
        "WHERE a.vpid = v.vpid AND g.enddt IS NULL) ORDER BY v.vpid LIMIT 1",
        schedule_codes,
    ).fetchone()
    assert row, f"the demo catalogue has no VMP with a barcode in {schedule_codes}"
    return str(row[0])


def count(clinic: Clinic, model: Any) -> int:
    with clinic.database.reader() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def outbox_tables(clinic: Clinic) -> list[tuple[str, str]]:
    with clinic.database.reader() as session:
        rows = session.execute(select(OutboxEntry.table, OutboxEntry.operation).order_by(OutboxEntry.seq))
        return [(t, o) for t, o in rows.tuples()]


def written_counts(clinic: Clinic) -> dict[str, int]:
    models = (Dispensing, DispensingLine, Owing, CdRegisterEntry, AuditEvent, OutboxEntry, RuleOverride)
    return {m.__tablename__: count(clinic, m) for m in models}


# -- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture
def patient(clinic: Clinic) -> Patient:
    return ready(clinic)


# -- full, partial, owings --------------------------------------------------------------------------------------
def test_full_dispensing_supplies_everything_in_one_transaction(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    vmp = vmp_with_schedule(demo_catalogue, NOT_CD)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    item = rx.items[0]
    outbox_before = len(outbox_tables(clinic))
    gtin = gtin_of(demo_catalogue, vmp)

    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item.id, 28, gtin)])

    assert result.prescription_status == "dispensed"
    assert result.owings == () and result.cd_register_entry_ids == ()
    (line,) = result.lines
    assert line.quantity == Decimal(28) and line.gtin == gtin.zfill(14) and line.ampp_id
    assert line.product_name != item.product_name  # the pack scanned, e.g. "... 28 tablet"
    after = reload(clinic, rx.id)
    assert after.status == "dispensed"
    assert after.items[0].quantity_supplied == 28 and after.items[0].status == ItemSupply.SUPPLIED
    with clinic.database.reader() as session:
        dispensing = session.get(Dispensing, result.dispensing_id)
        assert dispensing is not None
        assert dispensing.pharmacist_id == clinic.pharmacist.actor.user_id
        assert dispensing.organisation_id == clinic.pharmacy.id
        events = session.execute(select(AuditEvent).where(AuditEvent.action == "prescription.dispense")).scalars()
        (event,) = list(events)
        assert event.entity_id == rx.id and '"status":"dispensed"' in (event.after or "")
    queued = [entry for entry in outbox_tables(clinic)[outbox_before:] if entry[0] != "audit_event"]
    assert ("audit_event", "create") in outbox_tables(clinic)[outbox_before:]
    assert sorted(queued) == sorted(
        [
            ("dispensing", "create"),
            ("dispensing_line", "create"),
            ("prescription_item", "update"),
            ("prescription", "update"),
        ]
    )


def test_partial_then_owing_then_completion(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    first, second = vmp_with_schedule(demo_catalogue, NOT_CD), vmp_with_schedule(demo_catalogue, SCHEDULE_4)
    rx = sign(clinic, demo_catalogue, patient.id, [first, second])
    a, b = rx.items
    pharmacist = clinic.pharmacist

    part = dispense_items(pharmacist, demo_catalogue, rx.id, [SupplyLine(a.id, 10)])
    assert part.prescription_status == "partially dispensed"
    owed = {o.item_id: o.quantity for o in part.owings}
    assert owed == {a.id: Decimal(18), b.id: Decimal(28)}  # b, not supplied at all, is owed in full
    assert {o.expires_on for o in part.owings if o.item_id == b.id} == {date(2026, 3, 30)}  # Schedule 4: 28 days
    assert {o.expires_on for o in part.owings if o.item_id == a.id} == {date(2026, 9, 1)}  # not a CD: 6 months
    first_owings = {o.item_id: o.owing_id for o in owings_of(pharmacist, rx.id)}
    assert reload(clinic, rx.id).items[0].status == ItemSupply.OWING

    clinic.clock.advance(days=3)
    more = dispense_items(pharmacist, demo_catalogue, rx.id, [SupplyLine(a.id, 18), SupplyLine(b.id, 20)])
    assert more.prescription_status == "partially dispensed"
    assert [(o.item_id, o.quantity) for o in more.owings] == [(b.id, Decimal(8))]
    with clinic.database.reader() as session:
        lines = session.execute(select(DispensingLine).where(DispensingLine.dispensing_id == more.dispensing_id))
        assert {line.item_id: line.owing_id for line in lines.scalars()} == first_owings  # each names its owing

    done = dispense_items(pharmacist, demo_catalogue, rx.id, [SupplyLine(b.id, "8")])
    assert done.prescription_status == "dispensed" and done.owings == ()
    assert owings_of(pharmacist, rx.id) == []
    history = owings_of(pharmacist, rx.id, include_closed=True)
    assert [(o.item_id, o.quantity, o.status) for o in history] == [
        (a.id, Decimal(18), OwingStatus.SUPPLIED),
        (b.id, Decimal(28), OwingStatus.SUPPLIED),
        (b.id, Decimal(8), OwingStatus.SUPPLIED),
    ]
    final = reload(clinic, rx.id)
    assert [(i.quantity_supplied, i.status) for i in final.items] == [(28, "supplied"), (28, "supplied")]
    with pytest.raises(InvalidTransition, match="already dispensed"):
        dispense_items(pharmacist, demo_catalogue, rx.id, [SupplyLine(a.id, 1)])


def test_several_packs_of_one_item(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    vmp = vmp_with_schedule(demo_catalogue, NOT_CD)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp], quantity=56)
    item = rx.items[0]
    gtin = gtin_of(demo_catalogue, vmp)
    result = dispense_items(
        clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item.id, 28, gtin), SupplyLine(item.id, 28)]
    )
    assert result.prescription_status == "dispensed" and len(result.lines) == 2


def test_schedule_3_owing_cannot_be_supplied_after_28_days(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    vmp = vmp_with_schedule(demo_catalogue, SCHEDULE_3)
    on_time, late = (sign(clinic, demo_catalogue, patient.id, [vmp]) for _ in range(2))
    for rx in (on_time, late):
        owing = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 14)]).owings
        assert [o.expires_on for o in owing] == [rx.appropriate_date + timedelta(days=28)]  # type: ignore[operator]

    clinic.clock.advance(days=28)  # the last valid day: still allowed
    done = dispense_items(clinic.pharmacist, demo_catalogue, on_time.id, [SupplyLine(on_time.items[0].id, 14)])
    assert done.prescription_status == "dispensed"

    clinic.clock.advance(days=1)
    before = written_counts(clinic)
    with pytest.raises(InvalidTransition, match=r"owing of .* expired on 30/03/2026"):
        dispense_items(clinic.pharmacist, demo_catalogue, late.id, [SupplyLine(late.items[0].id, 14)])
    assert written_counts(clinic) == before
    assert reload(clinic, late.id).status == "partially dispensed"


def test_mixed_prescription_each_item_keeps_its_own_validity(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    cd = vmp_with_schedule(demo_catalogue, SCHEDULE_3)
    plain = vmp_with_schedule(demo_catalogue, NOT_CD)
    rx = sign(clinic, demo_catalogue, patient.id, [cd, plain])
    assert rx.valid_until == date(2026, 9, 1)  # the plain item's 6 months
    cd_item, plain_item = rx.items
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(plain_item.id, 14)])
    assert {o.item_id: o.expires_on for o in result.owings} == {
        cd_item.id: date(2026, 3, 30),
        plain_item.id: date(2026, 9, 1),
    }
    clinic.clock.advance(days=29)
    with pytest.raises(InvalidTransition, match=r"owing of .* expired on 30/03/2026"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(cd_item.id, 28)])
    assert expire_prescriptions(clinic.pharmacist) == 0  # the prescription lives on for its plain item
    owings = {o.item_id: o.status for o in owings_of(clinic.pharmacist, rx.id, include_closed=True)}
    assert owings == {cd_item.id: "expired", plain_item.id: "open"}
    done = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(plain_item.id, 14)])
    # Nothing more can be supplied: the CD item lapsed (no new owing is opened for it), the rest is supplied.
    assert done.prescription_status == "dispensed" and done.owings == ()
    statuses = {i.id: i.status for i in reload(clinic, rx.id).items}
    assert statuses == {cd_item.id: "expired", plain_item.id: "supplied"}


def test_cd_item_never_supplied_cannot_be_after_28_days(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    cd = vmp_with_schedule(demo_catalogue, SCHEDULE_4)
    rx = sign(clinic, demo_catalogue, patient.id, [cd, vmp_with_schedule(demo_catalogue, NOT_CD)])
    clinic.clock.advance(days=29)
    with pytest.raises(InvalidTransition, match=r"valid until 30/03/2026 \(Schedule 2, 3 and 4"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[1].id, 28)])
    assert result.prescription_status == "dispensed" and result.owings == ()  # the CD item is not owed: it lapsed


def test_not_before_the_start_date(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    rx = sign(
        clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)], not_before=date(2026, 3, 12)
    )
    with pytest.raises(InvalidTransition, match="cannot be dispensed before 12/03/2026"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    clinic.clock.advance(days=10)
    assert dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)]).lines


def test_not_after_expiry_and_the_prescription_is_left_alone(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, SCHEDULE_4)])
    clinic.clock.advance(days=29)
    before = written_counts(clinic)
    with pytest.raises(InvalidTransition, match=r"valid until 30/03/2026: it has expired"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    assert written_counts(clinic) == before
    assert reload(clinic, rx.id).status == "signed"


def test_quantities_must_be_positive_and_not_more_than_outstanding(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient
) -> None:
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)])
    item_id = rx.items[0].id
    for bad in (0, -1, "abc", "1.2345"):
        with pytest.raises(ValidationError):
            dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item_id, bad)])
    with pytest.raises(ValidationError, match=r"Only 28 tablet of .* 29 is too much"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item_id, 29)])
    with pytest.raises(ValidationError, match="too much"):  # two lines together are too much too
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item_id, 20), SupplyLine(item_id, 9)])
    dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item_id, "27.5")])
    with pytest.raises(ValidationError, match=r"Only 0.5 tablet"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item_id, 1)])
    with pytest.raises(ValidationError, match="at least one"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [])


def test_only_signed_prescriptions(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    draft = create_prescription(clinic.prescriber, patient.id)
    with pytest.raises(InvalidTransition, match="This prescription is a draft"):
        dispense_items(clinic.pharmacist, demo_catalogue, draft.id, [SupplyLine("x" * 32, 1)])
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)])
    cancel_prescription(clinic.prescriber, rx.id, "patient moved away")
    with pytest.raises(InvalidTransition, match="cancelled"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 1)])
    with pytest.raises(NotFound):
        dispense_items(clinic.pharmacist, demo_catalogue, "0" * 32, [SupplyLine(rx.items[0].id, 1)])


# -- scanned packs ----------------------------------------------------------------------------------------------
def test_wrong_pack_blocks_the_whole_dispensing(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    vmp, other = vmp_with_schedule(demo_catalogue, NOT_CD), vmp_with_gtin(demo_catalogue, SCHEDULE_4)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    item = rx.items[0]
    wrong = gtin_of(demo_catalogue, other)
    wrong_name = demo_catalogue.find_gtin(wrong)[0].ampp_name
    before = written_counts(clinic)
    with pytest.raises(DispensingRefused) as refused:
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item.id, 28, wrong)])
    assert refused.value.blocked
    assert f"the pack scanned is {wrong_name}" in str(refused.value)
    assert f"the prescription is for {item.product_name}" in str(refused.value)
    assert written_counts(clinic) == before


def test_end_dated_barcode_needs_a_reason(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    vmp = vmp_with_schedule(demo_catalogue, NOT_CD)
    rx = sign(clinic, demo_catalogue, patient.id, [vmp])
    item = rx.items[0]
    old = gtin_of(demo_catalogue, vmp, end_dated=True)
    lines = [SupplyLine(item.id, 28, old)]
    before = written_counts(clinic)
    with pytest.raises(DispensingRefused, match=r"needs a reason.*end-dated on") as refused:
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, lines)
    (warning,) = refused.value.results
    assert not refused.value.blocked and warning.key == f"gtin_end_dated:{item.id}"
    with pytest.raises(DispensingRefused):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, lines, overrides={warning.key: " ok  "})
    with pytest.raises(ValidationError, match="at most 500 characters"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, lines, overrides={warning.key: "x" * 501})
    assert written_counts(clinic) == before

    reason = "Checked the pack by hand: old barcode, right product"
    result = dispense_items(clinic.pharmacist, demo_catalogue, rx.id, lines, overrides={warning.key: reason})
    assert [w.key for w in result.overrides] == [warning.key]
    with clinic.database.reader() as session:
        (override,) = session.execute(select(RuleOverride)).scalars()
        assert (override.rule, override.item_id, override.reason) == ("gtin_end_dated", item.id, reason)
        audited = session.execute(select(AuditEvent.after).where(AuditEvent.action == "dispensing.override"))
        assert reason in (audited.scalar_one() or "")
    assert ("rule_override", "create") in outbox_tables(clinic)


# -- roles ------------------------------------------------------------------------------------------------------
def test_only_a_pharmacist_dispenses(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)])
    for ctx in (clinic.technician, clinic.prescriber, clinic.admin):
        with pytest.raises(PermissionDenied):
            dispense_items(ctx, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    assert count(clinic, Dispensing) == 0


# -- atomicity --------------------------------------------------------------------------------------------------
def test_an_invalid_second_line_writes_nothing(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    cd = vmp_with_gtin(demo_catalogue, SCHEDULE_2)
    rx = sign(clinic, demo_catalogue, patient.id, [cd, vmp_with_schedule(demo_catalogue, NOT_CD)])
    first, second = rx.items
    before = written_counts(clinic)
    bad_lines = (
        [SupplyLine(first.id, 28, gtin_of(demo_catalogue, cd)), SupplyLine(second.id, 99)],
        [SupplyLine(first.id, 28), SupplyLine("f" * 32, 1)],
        [SupplyLine(first.id, 28), SupplyLine(second.id, 28, gtin_of(demo_catalogue, cd))],  # wrong pack
    )
    for lines in bad_lines:
        with pytest.raises((ValidationError, DispensingRefused)):
            dispense_items(clinic.pharmacist, demo_catalogue, rx.id, lines, overrides={})
    assert written_counts(clinic) == before
    assert reload(clinic, rx.id).status == "signed"


def test_a_failure_after_the_writes_rolls_everything_back(
    clinic: Clinic, demo_catalogue: Catalogue, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, SCHEDULE_2)])
    item = rx.items[0]
    before = written_counts(clinic)
    real_record_event = supply.record_event

    def fail_last(session: Any, ctx: ServiceContext, action: str, *args: Any, **kwargs: Any) -> Any:
        if action == "prescription.dispense":  # the very last write: everything else is flushed by now
            session.flush()
            assert session.execute(select(func.count()).select_from(CdRegisterEntry)).scalar_one() == 1
            raise RuntimeError("power cut")
        return real_record_event(session, ctx, action, *args, **kwargs)

    monkeypatch.setattr(supply, "record_event", fail_last)
    negative = {f"cd_balance_negative:{item.id}": "delivery not booked in yet"}
    with pytest.raises(RuntimeError, match="power cut"):
        dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(item.id, 28)], overrides=negative)
    assert written_counts(clinic) == before
    after = reload(clinic, rx.id)
    assert (after.status, after.items[0].quantity_supplied, after.items[0].status) == ("signed", 0, "pending")


# -- finding prescriptions --------------------------------------------------------------------------------------
def test_find_by_barcode_id_or_patient(clinic: Clinic, demo_catalogue: Catalogue, patient: Patient) -> None:
    rx = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, NOT_CD)])
    other = sign(clinic, demo_catalogue, patient.id, [vmp_with_schedule(demo_catalogue, SCHEDULE_4)])
    tech = clinic.technician
    assert patient.nhs_number
    nhs = patient.nhs_number
    dashed = f"{rx.id[:8]}-{rx.id[8:12]}-{rx.id[12:]}".upper()
    assert [p.id for p in find_for_dispensing(tech, f"  {dashed} ")] == [rx.id]
    assert [p.id for p in find_for_dispensing(tech, " ".join((nhs[:3], nhs[3:6], nhs[6:])))] == [rx.id, other.id]
    assert [p.id for p in find_for_dispensing(tech, "jones alice")] == [rx.id, other.id]
    assert find_for_dispensing(tech, "nobody-like-this") == []
    assert find_for_dispensing(tech, "   ") == []
    with pytest.raises(NotFound):
        find_for_dispensing(tech, "a" * 32)
    dispense_items(clinic.pharmacist, demo_catalogue, rx.id, [SupplyLine(rx.items[0].id, 28)])
    assert [p.id for p in find_for_dispensing(tech, nhs)] == [other.id]  # dispensed: no longer found
    assert [p.id for p in dispensing_queue(tech)] == [other.id]
    with pytest.raises(PermissionDenied):
        dispensing_queue(clinic.admin)
    with pytest.raises(PermissionDenied):
        find_for_dispensing(clinic.admin, rx.id)
