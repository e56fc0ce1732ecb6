"""The core services behind the prescription composer: dose and quantity helpers, pack sizes, the signing quote
(cost against what can be spent), the prescriber's balance and their drafts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.dmd.catalogue import Catalogue
from core.errors import PermissionDenied
from core.prescriptions.dosing import (
    FREQUENCY_BY_LABEL,
    directions_text,
    dose_text,
    pack_sizes,
    total_quantity,
    unit_for,
)
from core.prescriptions.drafting import add_item, create_prescription, my_drafts
from core.prescriptions.signing import sign_prescription
from core.rules.prescribing import _states_an_amount
from core.tokens.balance import prescriber_balance, signing_quote
from core.tokens.costs import CostTable, issue_costs
from tests.clinic import PRESCRIBER_PIN, Clinic
from tests.prescribing_helpers import add_patient, fund_clinic, vmp_with_schedule

TWICE = FREQUENCY_BY_LABEL["twice a day"]


def add_tablets(clinic: Clinic, catalogue: Catalogue, rx_id: str, codes: tuple[str, ...] | None = None) -> None:
    vmp = vmp_with_schedule(catalogue, codes)
    add_item(clinic.prescriber, catalogue, rx_id, vmp, dose="1 tablet at night", directions="Take 1 tablet at night",
             quantity=28, days_supply=28)  # fmt: skip


def test_dose_and_directions_read_as_a_prescriber_writes_them() -> None:
    assert dose_text(Decimal(1), "tablet", TWICE) == "1 tablet twice a day"
    assert dose_text(Decimal(2), "tablet", FREQUENCY_BY_LABEL["at night"]) == "2 tablets at night"
    assert dose_text(Decimal("2.5"), "ml", FREQUENCY_BY_LABEL["three times a day"]) == "2.5 ml three times a day"
    assert directions_text(Decimal(1), "capsule", TWICE) == "Take 1 capsule twice a day"
    assert directions_text(Decimal(1), "patch", FREQUENCY_BY_LABEL["once a week"]) == "Apply 1 patch once a week"
    assert directions_text(Decimal(2), "dose", TWICE) == "Inhale 2 doses twice a day"
    assert unit_for(Decimal(5), "pre-filled syringe") == "pre-filled syringes"
    # A suggested dose always states an amount, so the Schedule 2/3 dose rule accepts it.
    assert _states_an_amount(dose_text(Decimal(1), "tablet", TWICE))


@pytest.mark.parametrize(
    ("amount", "frequency", "days", "expected"),
    [
        ("1", "twice a day", 28, Decimal(56)),
        ("2", "four times a day", 7, Decimal(56)),
        ("0.5", "once a day", 7, Decimal(4)),  # half tablets: rounded up to whole ones
        ("1", "every other day", 30, Decimal(15)),
        ("1", "once a week", 28, Decimal(4)),
        ("2.5", "three times a day", 5, Decimal("38")),
        ("1", "when required", 28, None),  # no total can be worked out
        ("0", "twice a day", 28, None),
    ],
)
def test_total_quantity_for_the_days(amount: str, frequency: str, days: int, expected: Decimal | None) -> None:
    assert total_quantity(Decimal(amount), FREQUENCY_BY_LABEL[frequency], days) == expected


def test_pack_sizes_come_from_the_vmp_packs_in_its_unit(demo_catalogue: Catalogue) -> None:
    vmp = vmp_with_schedule(demo_catalogue, None)
    expected = sorted(
        {
            Decimal(str(q)).normalize()
            for (q,) in demo_catalogue.conn.execute(
                "SELECT qtyval FROM vmpp WHERE vpid = ? AND invalid IS NULL", (int(vmp),)
            )
        }
    )
    sizes = pack_sizes(demo_catalogue, vmp)
    assert [s.quantity for s in sizes] == expected and expected
    assert all(not s.unit.startswith("unknown") for s in sizes)
    assert sizes[0].label.startswith(format(expected[0], "f"))


def test_issue_costs_of_a_repeat_discount_later_issues() -> None:
    table = CostTable(per_item=10, controlled_drug_surcharge=5, repeat_issue_discount=4)
    assert issue_costs(table, [None, 4], None) == [25]
    assert issue_costs(table, [None], 3) == [10, 6, 6]


def test_quote_matches_what_signing_debits(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic, tokens=100)
    rx = create_prescription(clinic.prescriber, add_patient(clinic).id)
    for codes in (None, ("0008",)):
        add_tablets(clinic, demo_catalogue, rx.id, codes)
    quote = signing_quote(clinic.prescriber, rx.id)
    assert quote.balance is not None and quote.balance.available == 100 and quote.refusal is None
    signed = sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN)
    assert signed.token_cost == quote.cost == 25
    after = prescriber_balance(clinic.prescriber)
    assert after is not None and after.available == 75 and after.pending == 75  # nothing synced yet


def test_quote_explains_a_refusal_before_signing(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    rx = create_prescription(clinic.prescriber, add_patient(clinic).id)
    add_tablets(clinic, demo_catalogue, rx.id)
    assert signing_quote(clinic.prescriber, rx.id).refusal == (
        "There is no token account for you or your clinic: ask your clinic admin to set one up."
    )
    fund_clinic(clinic, tokens=4, overdraft_limit=5)
    quote = signing_quote(clinic.prescriber, rx.id)
    assert quote.balance is not None and quote.balance.spendable == 9
    assert quote.refusal is not None and "costs 10 tokens" in quote.refusal and "top up" in quote.refusal


def test_my_drafts_are_the_prescribers_own_unsigned_ones(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    fund_clinic(clinic)
    patient = add_patient(clinic)
    first = create_prescription(clinic.prescriber, patient.id)
    signed = create_prescription(clinic.prescriber, patient.id)
    add_tablets(clinic, demo_catalogue, signed.id)
    sign_prescription(clinic.prescriber, demo_catalogue, signed.id, PRESCRIBER_PIN)
    assert [rx.id for rx in my_drafts(clinic.prescriber, patient.id)] == [first.id]
    assert my_drafts(clinic.prescriber, add_patient(clinic).id) == []
    with pytest.raises(PermissionDenied):
        my_drafts(clinic.pharmacist, patient.id)


def test_draft_options_can_change_until_signing(clinic: Clinic, demo_catalogue: Catalogue) -> None:
    from datetime import date

    from core.errors import InvalidTransition, ValidationError
    from core.prescriptions.drafting import set_draft_options
    from core.prescriptions.queries import get_prescription

    fund_clinic(clinic)
    rx = create_prescription(clinic.prescriber, add_patient(clinic).id)
    add_tablets(clinic, demo_catalogue, rx.id)
    set_draft_options(clinic.prescriber, rx.id, not_before=date(2026, 3, 9), repeat_total=3, repeat_interval_days=28)
    with pytest.raises(ValidationError, match="2 to 13 issues"):
        set_draft_options(clinic.prescriber, rx.id, not_before=None, repeat_total=20, repeat_interval_days=28)
    with clinic.database.reader() as session:
        stored = get_prescription(session, rx.id)
        assert (stored.not_before, stored.repeat_total, stored.repeat_issue) == (date(2026, 3, 9), 3, 1)
    assert len(sign_prescription(clinic.prescriber, demo_catalogue, rx.id, PRESCRIBER_PIN).prescription_ids) == 3
    with pytest.raises(InvalidTransition):
        set_draft_options(clinic.prescriber, rx.id, not_before=None, repeat_total=None, repeat_interval_days=None)
