"""Prescriptions through the service functions: drafting, signing (one transaction), overrides, tokens, states."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.dmd.catalogue import Catalogue
from core.dmd.layout import copy_replica
from core.errors import InsufficientTokens, InvalidTransition, PermissionDenied, SignInFailed, ValidationError
from core.prescriptions.checks import check_prescription
from core.prescriptions.drafting import add_item, create_prescription, remove_item
from core.prescriptions.lifecycle import cancel_prescription, expire_prescriptions
from core.prescriptions.products import with_related_substances
from core.prescriptions.queries import dispensing_queue, get_prescription
from core.prescriptions.signing import sign_prescription
from core.prescriptions.status import TRANSITIONS, PrescriptionStatus, check_transition
from core.rules.model import RulesNotSatisfied
from core.rules.validity import add_months
from core.storage.models import Allergy, AuditEvent, LedgerEntry, OutboxEntry, Prescription, RuleOverride, TokenAccount
from core.tokens.costs import CostTable, set_cost_table
from core.tokens.ledger import available_balance, create_account, set_overdraft_limit
from tests.clinic import PRESCRIBER_PIN, Clinic
from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule

DOSE = "1 tablet twice daily"
DIRECTIONS = "Take ONE tablet TWICE a day"


def counts(clinic: Clinic) -> dict[str, int]:
    with clinic.database.reader() as session:
        return {
            model.__tablename__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (AuditEvent, OutboxEntry, LedgerEntry, RuleOverride, Prescription)
        }


def draft(clinic: Clinic, catalogue: Catalogue, *schedules: tuple[str, ...] | None, **rx_args: object) -> str:
    patient = add_patient(clinic)
    rx = create_prescription(clinic.prescriber, patient.id, **rx_args)  # type: ignore[arg-type]
    for codes in schedules or (None,):
        vmp = vmp_with_schedule(catalogue, codes)
        add_item(
            clinic.prescriber, catalogue, rx.id, vmp, dose=DOSE, directions=DIRECTIONS, quantity=28, days_supply=14
        )
    return rx.id


# -- drafting ------------------------------------------------------------------------------------------------


def test_item_keeps_dmd_ids_and_a_snapshot(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id = draft(clinic, demo_catalogue, ("0002",))
    with clinic.database.reader() as session:
        [item] = get_prescription(session, rx_id).items
    vmp = demo_catalogue.conn.execute("SELECT nm FROM vmp WHERE vpid = ?", (int(item.vmp_id),)).fetchone()
    assert item.product_name == vmp[0]
    assert item.cd_schedule == 2
    assert item.strength and item.form and item.unit
    assert item.ingredient_ids
    assert item.quantity == Decimal(28)
    assert item.quantity_in_words and item.quantity_in_words.startswith("twenty-eight (28)")


def test_amp_prescribed_keeps_both_ids(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    apid, vpid = demo_catalogue.conn.execute(
        "SELECT apid, vpid FROM amp WHERE invalid IS NULL AND avail_restrictcd != '0009' LIMIT 1"
    ).fetchone()
    patient = add_patient(clinic)
    rx = create_prescription(clinic.prescriber, patient.id)
    item = add_item(clinic.prescriber, demo_catalogue, rx.id, str(apid), dose=DOSE, directions=DIRECTIONS, quantity=1)
    assert (item.amp_id, item.vmp_id) == (str(apid), str(vpid))


@pytest.mark.parametrize(
    ("quantity", "message"), [("0", "more than 0"), ("-3", "more than 0"), ("abc", "not a quantity"), ("1.2345", "3")]
)
def test_bad_quantity_is_refused(clinic: Clinic, demo_catalogue: Catalogue, quantity: str, message: str) -> None:
    rx_id = draft(clinic, demo_catalogue)
    before = counts(clinic)
    with pytest.raises(ValidationError, match=message):
        add_item(
            clinic.prescriber, demo_catalogue, rx_id, vmp_with_schedule(demo_catalogue, None),
            dose=DOSE, directions=DIRECTIONS, quantity=quantity,
        )  # fmt: skip
    assert counts(clinic) == before


def test_only_vmp_or_amp_can_be_prescribed(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id = draft(clinic, demo_catalogue)
    vppid = demo_catalogue.conn.execute("SELECT vppid FROM vmpp LIMIT 1").fetchone()[0]
    with pytest.raises(ValidationError, match="VMPP"):
        add_item(clinic.prescriber, demo_catalogue, rx_id, str(vppid), dose=DOSE, directions=DIRECTIONS, quantity=1)
    with pytest.raises(ValidationError, match="No product"):
        add_item(clinic.prescriber, demo_catalogue, rx_id, "123456", dose=DOSE, directions=DIRECTIONS, quantity=1)


def test_remove_item_renumbers(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id = draft(clinic, demo_catalogue, None, ("0008",), ("0010",))
    with clinic.database.reader() as session:
        first = get_prescription(session, rx_id).items[0].id
    remove_item(clinic.prescriber, first)
    with clinic.database.reader() as session:
        assert [i.position for i in get_prescription(session, rx_id).items] == [1, 2]


def test_pharmacist_cannot_prescribe(clinic: Clinic) -> None:
    patient = add_patient(clinic)
    with pytest.raises(PermissionDenied, match="pharmacist may not write and sign prescriptions"):
        create_prescription(clinic.pharmacist, patient.id)


# -- signing -------------------------------------------------------------------------------------------------


def test_signing_writes_status_debit_audit_and_outbox_together(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic, 100)
    rx_id = draft(clinic, demo_catalogue, None, ("0002",), ("0008",))
    before = counts(clinic)
    signed = sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    assert signed.prescription_ids == (rx_id,)
    assert signed.token_cost == 10 + 15 + 15  # per item, plus the controlled drug surcharge twice
    after = counts(clinic)
    assert after["ledger_entry"] == before["ledger_entry"] + 1
    # prescription, items, ledger entry, and the audit events (the debit and the signing)
    assert after["outbox"] == before["outbox"] + 1 + 3 + 1 + 2
    with clinic.database.reader() as session:
        rx = get_prescription(session, rx_id)
        assert rx.status == PrescriptionStatus.SIGNED
        assert rx.appropriate_date == clinic.clock().date()
        assert rx.valid_until == date(2026, 9, 1)  # 6 months for the plain item; its CD items end on 30 March
        debit = session.execute(select(LedgerEntry).where(LedgerEntry.prescription_id == rx_id)).scalar_one()
        assert debit.amount == -40 and debit.kind == "debit"
        sign_event = session.execute(select(AuditEvent).where(AuditEvent.action == "prescription.sign")).scalar_one()
        assert json.loads(sign_event.before or "{}") == {"status": "draft"}
        assert sign_event.user_id == clinic.prescriber.actor.user_id and sign_event.workstation == "test-ws"
        queued = session.execute(select(OutboxEntry).where(OutboxEntry.row_id == rx_id)).scalar_one()
        assert json.loads(queued.payload)["status"] == "signed"


def test_wrong_pin_signs_nothing_and_is_audited(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue)
    before = counts(clinic)
    with pytest.raises(SignInFailed, match="PIN"):
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, "0000")
    after = counts(clinic)
    assert after["audit_event"] == before["audit_event"] + 1  # the failed attempt, nothing else
    assert {k: v for k, v in after.items() if k not in ("audit_event", "outbox")} == {
        k: v for k, v in before.items() if k not in ("audit_event", "outbox")
    }
    with clinic.database.reader() as session:
        assert get_prescription(session, rx_id).status == PrescriptionStatus.DRAFT


def test_blocking_rule_refuses_and_writes_nothing(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue, ("0002",), repeat_total=3, repeat_interval_days=28)
    before = counts(clinic)
    with pytest.raises(RulesNotSatisfied, match="cannot be on a repeat") as caught:
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN, {"cd_no_repeat:*": "I insist"})
    assert caught.value.blocked
    assert counts(clinic) == before


def test_invalid_product_in_the_current_release_blocks(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    invalid = demo_catalogue.conn.execute("SELECT vpid FROM vmp WHERE invalid = 1 LIMIT 1").fetchone()[0]
    rx_id = draft(clinic, demo_catalogue)
    add_item(clinic.prescriber, demo_catalogue, rx_id, str(invalid), dose=DOSE, directions=DIRECTIONS, quantity=1)
    with pytest.raises(RulesNotSatisfied, match="is invalid"):
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)


def test_warning_needs_a_typed_reason_which_is_audited(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    patient = add_patient(clinic)
    rx = create_prescription(clinic.prescriber, patient.id)
    vmp = vmp_with_schedule(demo_catalogue, ("0008",))
    item = add_item(clinic.prescriber, demo_catalogue, rx.id, vmp, dose=DOSE, directions=DIRECTIONS, quantity=120,
                    days_supply=60)  # fmt: skip
    [warning] = check_prescription(clinic.prescriber, demo_catalogue, rx.id)
    assert warning.key == f"cd_days_supply:{item.id}"
    with pytest.raises(RulesNotSatisfied, match="needs a reason"):
        sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    with pytest.raises(RulesNotSatisfied):
        sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN, {warning.key: "   ok "})
    reason = "Patient abroad for 8 weeks; GP aware"
    signed = sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN, {warning.key: reason})
    assert [w.rule for w in signed.overrides] == ["cd_days_supply"]
    with clinic.database.reader() as session:
        override = session.execute(select(RuleOverride)).scalar_one()
        assert (override.reason, override.item_id, override.user_id) == (
            reason,
            item.id,
            clinic.prescriber.actor.user_id,
        )
        event = session.execute(select(AuditEvent).where(AuditEvent.action == "prescription.override")).scalar_one()
        assert reason in (event.after or "")


def test_allergy_through_the_vmp_ingredients(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue)
    with clinic.database.transaction() as session:
        rx = get_prescription(session, rx_id)
        isid = rx.items[0].ingredient_ids.split()[0]
        session.add(
            Allergy(
                patient_id=rx.patient_id, kind="allergy", substance_kind="ingredient", substance_id=isid,
                substance_name="Test ingredient", reaction="anaphylaxis", severity="severe",
                recorded_by=clinic.prescriber.actor.user_id, recorded_at=clinic.clock(), updated_at=clinic.clock(),
            )
        )  # fmt: skip
    with pytest.raises(RulesNotSatisfied, match="severe allergy") as caught:
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    assert caught.value.blocked


def _vmp_named(catalogue: Catalogue, name: str) -> str:
    return str(catalogue.conn.execute("SELECT vpid FROM vmp WHERE nm = ?", (name,)).fetchone()[0])


def _substance(catalogue: Catalogue, name: str) -> str:
    return str(catalogue.conn.execute("SELECT isid FROM ing WHERE nm = ?", (name,)).fetchone()[0])


def test_related_substances_follow_the_basis_of_strength(demo_catalogue: Catalogue) -> None:
    trihydrate, base = _substance(demo_catalogue, "Amoxicillin trihydrate"), _substance(demo_catalogue, "Amoxicillin")
    assert {trihydrate, base} <= with_related_substances(demo_catalogue, [trihydrate])
    assert {trihydrate, base} <= with_related_substances(demo_catalogue, [base])
    paracetamol = _substance(demo_catalogue, "Paracetamol")
    assert base not in with_related_substances(demo_catalogue, [paracetamol])


def test_an_intolerance_to_a_salt_is_found_in_a_product_listing_its_base(
    clinic: Clinic, demo_catalogue: Catalogue
) -> None:
    # The demo release (real names and relations): the suspension lists Amoxicillin, the dispersible tablets
    # Amoxicillin trihydrate with Amoxicillin as its basis of strength. An intolerance recorded against the
    # trihydrate must warn on the suspension (it said "no problems found", as a screenshot showed).
    fund_clinic(clinic)
    patient_id = add_patient(clinic).id
    with clinic.database.transaction() as session:
        session.add(
            Allergy(
                patient_id=patient_id, kind="intolerance", substance_kind="ingredient",
                substance_id=_substance(demo_catalogue, "Amoxicillin trihydrate"),
                substance_name="Amoxicillin trihydrate", reaction="diarrhoea", severity="moderate",
                recorded_by=clinic.prescriber.actor.user_id, recorded_at=clinic.clock(), updated_at=clinic.clock(),
            )
        )  # fmt: skip
    rx = create_prescription(clinic.prescriber, patient_id)
    suspension = _vmp_named(demo_catalogue, "Amoxicillin 125mg/5ml oral suspension")
    add_item(clinic.prescriber, demo_catalogue, rx.id, suspension, dose="5ml three times a day",
             directions="Take three times a day", quantity=100)  # fmt: skip
    [warning] = [r for r in check_prescription(clinic.prescriber, demo_catalogue, rx.id) if r.rule == "allergy"]
    assert "contains Amoxicillin:" in warning.message and "intolerance to Amoxicillin trihydrate" in warning.message


def test_same_ingredient_on_an_active_prescription_warns(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    first = draft(clinic, demo_catalogue)
    sign_prescription(clinic.prescriber, demo_catalogue, first, PRESCRIBER_PIN)
    with clinic.database.reader() as session:
        rx = get_prescription(session, first)
        patient_id, vmp = rx.patient_id, rx.items[0].vmp_id
    second = create_prescription(clinic.prescriber, patient_id)
    add_item(clinic.prescriber, demo_catalogue, second.id, vmp, dose=DOSE, directions=DIRECTIONS, quantity=28)
    [warning] = check_prescription(clinic.prescriber, demo_catalogue, second.id)
    assert warning.rule == "duplicate_ingredient"


def test_signing_past_the_overdraft_limit_is_refused(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    account_id = fund_clinic(clinic, 25)
    rx_id = draft(clinic, demo_catalogue, None, ("0002",))  # costs 25
    expensive = draft(clinic, demo_catalogue, None)
    sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    before = counts(clinic)
    with pytest.raises(InsufficientTokens, match="costs 10 tokens but Riverside Surgery has 0"):
        sign_prescription(clinic.prescriber, demo_catalogue, expensive, PRESCRIBER_PIN)
    assert counts(clinic) == before
    set_overdraft_limit(clinic.admin, account_id, 10)
    sign_prescription(clinic.prescriber, demo_catalogue, expensive, PRESCRIBER_PIN)
    with clinic.database.reader() as session:
        assert available_balance(session, session.get_one(TokenAccount, account_id)) == -10


def test_prescriber_without_a_pool_uses_their_own_account(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id = draft(clinic, demo_catalogue)
    with pytest.raises(InsufficientTokens, match="no token account"):
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    own = create_account(clinic.admin, "user", clinic.prescriber.actor.user_id, overdraft_limit=50)
    sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    with clinic.database.reader() as session:
        assert session.execute(select(LedgerEntry.account_id)).scalar_one() == own.id


def test_cost_table_is_configurable(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    set_cost_table(clinic.admin, CostTable(per_item=3, controlled_drug_surcharge=7, repeat_issue_discount=1))
    rx_id = draft(clinic, demo_catalogue, None, ("0002",))
    assert sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN).token_cost == 3 + 10
    with pytest.raises(PermissionDenied):
        set_cost_table(clinic.prescriber, CostTable())


def test_repeat_is_signed_as_a_batch_of_issues(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue, None, ("0008",), repeat_total=3, repeat_interval_days=28)
    signed = sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    assert len(signed.prescription_ids) == 3 and signed.prescription_ids[0] == rx_id
    assert signed.token_cost == (10 + 15) + 2 * ((10 - 5) + (15 - 5))  # later issues: a discount per item
    with clinic.database.reader() as session:
        issues = [get_prescription(session, i) for i in signed.prescription_ids]
    today = clinic.clock().date()
    assert [i.repeat_issue for i in issues] == [1, 2, 3]
    assert [i.appropriate_date for i in issues] == [today, today + timedelta(days=28), today + timedelta(days=56)]
    assert all(
        i.valid_until == add_months(i.appropriate_date, 6) - timedelta(days=1) for i in issues if i.appropriate_date
    )
    assert {i.repeat_group_id for i in issues} == {rx_id}
    assert all(len(i.items) == 2 for i in issues)
    with clinic.database.reader() as session:
        queued = session.execute(select(OutboxEntry).where(OutboxEntry.table == "prescription_item")).scalars()
        payloads = [json.loads(entry.payload) for entry in queued]
    assert sorted(p["prescription_id"] for p in payloads) == sorted(i.id for i in issues for _ in range(2))


def test_repeat_parameters_are_checked(clinic: Clinic) -> None:
    patient = add_patient(clinic)
    with pytest.raises(ValidationError, match="interval"):
        create_prescription(clinic.prescriber, patient.id, repeat_total=3)
    with pytest.raises(ValidationError, match="2 to 13"):
        create_prescription(clinic.prescriber, patient.id, repeat_total=20, repeat_interval_days=28)


# -- states ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", list(PrescriptionStatus))
@pytest.mark.parametrize("target", list(PrescriptionStatus))
def test_every_transition_is_legal_or_refused(current: PrescriptionStatus, target: PrescriptionStatus) -> None:
    if target in TRANSITIONS[current]:
        check_transition(current.value, target)
    else:
        with pytest.raises(InvalidTransition, match=f"cannot become {target.value}"):
            check_transition(current.value, target)


def test_states_only_move_forward() -> None:
    for terminal in (PrescriptionStatus.DISPENSED, PrescriptionStatus.CANCELLED, PrescriptionStatus.EXPIRED):
        assert TRANSITIONS[terminal] == frozenset()
    assert PrescriptionStatus.DRAFT not in {t for targets in TRANSITIONS.values() for t in targets}


def test_signing_twice_is_refused(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue)
    sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    with pytest.raises(InvalidTransition, match="signed prescription cannot become signed"):
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    with pytest.raises(InvalidTransition, match="only drafts"):
        add_item(clinic.prescriber, demo_catalogue, rx_id, vmp_with_schedule(demo_catalogue, None),
                 dose=DOSE, directions=DIRECTIONS, quantity=1)  # fmt: skip


def test_cancel_needs_a_reason_and_is_final(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue)
    sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    with pytest.raises(ValidationError, match="why"):
        cancel_prescription(clinic.prescriber, rx_id, "")
    rx = cancel_prescription(clinic.prescriber, rx_id, "Wrong strength chosen")
    assert rx.status == PrescriptionStatus.CANCELLED and rx.cancel_reason == "Wrong strength chosen"
    assert {item.status for item in rx.items} == {"cancelled"}
    with pytest.raises(InvalidTransition, match="cancelled prescription cannot become cancelled"):
        cancel_prescription(clinic.prescriber, rx_id, "Again, please")
    with clinic.database.reader() as session:
        assert dispensing_queue(session, clinic.clock().date()) == []


def test_expiry_moves_signed_prescriptions_out_of_the_queue(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    cd = draft(clinic, demo_catalogue, ("0004",))  # 28 days
    plain = draft(clinic, demo_catalogue)  # 6 months
    for rx_id in (cd, plain):
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    clinic.clock.advance(days=28)
    assert expire_prescriptions(clinic.pharmacist) == 0  # the last valid day is still valid
    clinic.clock.advance(days=1)
    assert expire_prescriptions(clinic.pharmacist) == 1
    with clinic.database.reader() as session:
        assert get_prescription(session, cd).status == PrescriptionStatus.EXPIRED
        assert [rx.id for rx in dispensing_queue(session, clinic.clock().date())] == [plain]


def test_prescription_found_by_printed_id(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx_id = draft(clinic, demo_catalogue)
    with clinic.database.reader() as session:
        assert get_prescription(session, f"  {rx_id.upper()} ").id == rx_id
        with pytest.raises(Exception, match="not a prescription id"):
            get_prescription(session, "12345")


def test_detached_copy_has_the_same_python_values_as_the_orm(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    from core.prescriptions.queries import load_detached

    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue, ("0002",), not_before=date(2026, 3, 5))
    sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    with clinic.database.reader() as session:
        orm = get_prescription(session, rx_id)
        plain = load_detached(session, rx_id)
        for column in Prescription.__table__.columns:
            assert getattr(plain, column.key) == getattr(orm, column.key), column.key
        for orm_item, plain_item in zip(orm.items, plain.items, strict=True):
            assert plain_item.quantity == orm_item.quantity and isinstance(plain_item.quantity, Decimal)
    assert isinstance(plain.not_before, date) and isinstance(plain.signed_at, datetime)


def test_five_wrong_pins_lock_signing(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue)
    for _ in range(5):
        with pytest.raises(SignInFailed, match="PIN is not right"):
            sign_prescription(clinic.prescriber, demo_catalogue, rx_id, "0000")
    with pytest.raises(SignInFailed, match="locked"):
        sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)  # even the right PIN
    clinic.clock.advance(minutes=6)
    assert sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN).prescription_ids == (rx_id,)


def test_an_unknown_controlled_drug_category_is_never_taken_for_none(
    clinic: Clinic, demo_catalogue: Catalogue, tmp_path: Path
) -> None:
    import sqlite3

    copy = tmp_path / "dmd.sqlite"
    copy_replica(demo_catalogue.path, copy)
    vmp = vmp_with_schedule(demo_catalogue, None)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE control_info SET catcd = '0042' WHERE vpid = ?", (int(vmp),))
    patient = add_patient(clinic)
    rx = create_prescription(clinic.prescriber, patient.id)
    with Catalogue(copy) as newer, pytest.raises(ValidationError, match="controlled drug category 0042"):
        add_item(clinic.prescriber, newer, rx.id, vmp, dose=DOSE, directions=DIRECTIONS, quantity=28)


def test_the_queue_leaves_out_what_is_past_its_last_day(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue, ("0008",))
    sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN)
    clinic.clock.advance(days=29)  # expire_prescriptions has not run yet
    with clinic.database.reader() as session:
        assert dispensing_queue(session, clinic.clock().date()) == []


def test_cancelling_a_repeat_issue_can_take_the_later_issues_with_it(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    rx_id = draft(clinic, demo_catalogue, repeat_total=3, repeat_interval_days=28)
    first, second, third = sign_prescription(clinic.prescriber, demo_catalogue, rx_id, PRESCRIBER_PIN).prescription_ids
    cancel_prescription(clinic.prescriber, second, "Medication stopped by the GP", whole_batch=True)
    with clinic.database.reader() as session:
        statuses = [get_prescription(session, i).status for i in (first, second, third)]
    assert statuses == ["signed", "cancelled", "cancelled"]  # an earlier issue is left alone
