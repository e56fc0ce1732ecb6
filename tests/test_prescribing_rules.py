"""One test (or more) per UK prescribing rule (DESIGN.md §5), on facts alone: no database, no catalogue."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.prescriptions.quantity_words import quantity_in_words, words_match
from core.rules.model import Outcome, RuleResult
from core.rules.prescribing import (
    SIGNING_RULES,
    ActiveMedicine,
    AllergyFacts,
    ItemFacts,
    PrescriptionFacts,
    run_rules,
)
from core.rules.validity import add_months, earliest_item_expiry, item_valid_until, valid_until, validity_for
from tests.clinic import Clinic

TODAY = date(2026, 3, 2)


def item(schedule: int | None = None, **changes: object) -> ItemFacts:
    base = ItemFacts(
        item_id="item1",
        name="Morphine sulfate 10mg tablets" if schedule else "Amoxicillin 500mg capsules",
        cd_schedule=schedule,
        strength="10mg",
        form="tablet",
        unit="tablet",
        dose="1 tablet every 12 hours",
        quantity=Decimal(28),
        quantity_in_words="twenty-eight (28) tablets",
        days_supply=14,
        ingredient_ids=frozenset({"111"}),
        vtm_id="900",
        unusable=None,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def facts(*items: ItemFacts, **changes: object) -> PrescriptionFacts:
    base = PrescriptionFacts(
        today=TODAY,
        not_before=None,
        is_repeat=False,
        patient_address="3 Park Row, Leeds, LS1 5AB",
        prescriber_registration="1234567",
        items=items or (item(),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def only(results: list[RuleResult], rule: str) -> list[RuleResult]:
    return [r for r in results if r.rule == rule]


def test_every_rule_has_a_code_description_and_is_unique() -> None:
    codes = [r.code for r in SIGNING_RULES]
    assert len(codes) == len(set(codes))
    assert all(r.description for r in SIGNING_RULES)


def test_a_plain_prescription_passes_every_rule() -> None:
    assert run_rules(facts()) == []


def test_no_items_blocks() -> None:
    results = run_rules(dataclasses.replace(facts(), items=()))
    assert [r.rule for r in results] == ["has_items"]
    assert results[0].outcome is Outcome.BLOCK


@pytest.mark.parametrize("state", ["invalid", "discontinued", "not available", "no longer in the catalogue"])
def test_unusable_product_blocks(state: str) -> None:
    [result] = only(run_rules(facts(item(unusable=state))), "product_usable")
    assert result.outcome is Outcome.BLOCK and state in result.message


def test_schedule_1_blocks() -> None:
    [result] = only(run_rules(facts(item(1))), "schedule_1")
    assert result.outcome is Outcome.BLOCK


# -- validity ------------------------------------------------------------------------------------------------


def test_validity_six_months_from_appropriate_date() -> None:
    # Six months *beginning with* the appropriate date: 2 March is the first day, 1 September the last.
    assert valid_until(date(2026, 3, 2), [None]) == date(2026, 9, 1)
    assert valid_until(date(2026, 8, 31), [None]) == date(2027, 2, 27)  # 28 Feb is 6 months on (no 31 Feb)
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)


@pytest.mark.parametrize("schedule", [2, 3, 4])
def test_validity_28_days_for_schedules_2_3_4(schedule: int) -> None:
    assert valid_until(date(2026, 3, 2), [schedule]) == date(2026, 3, 30)
    assert validity_for(schedule).days == 28


def test_schedule_5_is_six_months_and_each_item_keeps_its_own_period() -> None:
    assert valid_until(date(2026, 3, 2), [5]) == date(2026, 9, 1)
    # The prescription lasts as long as its longest item; the Schedule 3 item on it still ends after 28 days.
    assert valid_until(date(2026, 3, 2), [None, 5, 3]) == date(2026, 9, 1)
    assert earliest_item_expiry(date(2026, 3, 2), [None, 5, 3]) == date(2026, 3, 30)
    assert item_valid_until(date(2026, 3, 2), 3) == date(2026, 3, 30)


def test_start_date_more_than_six_months_ago_blocks() -> None:
    old = add_months(TODAY, -6)  # today would be the first day of the seventh month
    [result] = only(run_rules(facts(not_before=old)), "validity")
    assert result.outcome is Outcome.BLOCK
    assert run_rules(facts(not_before=old + timedelta(days=1))) == []  # today is its last valid day


def test_cd_start_date_more_than_28_days_ago_blocks() -> None:
    [result] = only(run_rules(facts(item(4), not_before=TODAY - timedelta(days=29))), "validity")
    assert "28 days" in result.message
    assert only(run_rules(facts(item(4), not_before=TODAY - timedelta(days=28))), "validity") == []


def test_future_start_date_is_fine() -> None:
    assert only(run_rules(facts(not_before=TODAY + timedelta(days=60))), "validity") == []


# -- controlled drug writing requirements ----------------------------------------------------------------------


@pytest.mark.parametrize("dose", ["", "As directed", "as directed.", " AS  DIRECTED ", "mdu", "Use as directed"])
@pytest.mark.parametrize("schedule", [2, 3])
def test_cd_dose_as_directed_alone_blocks(schedule: int, dose: str) -> None:
    [result] = only(run_rules(facts(item(schedule, dose=dose))), "cd_dose")
    assert result.outcome is Outcome.BLOCK and "as directed" in result.message


def test_cd_dose_not_required_for_schedule_4_and_real_doses_pass() -> None:
    assert only(run_rules(facts(item(4, dose="as directed"))), "cd_dose") == []
    assert only(run_rules(facts(item(2, dose="10mg every 12 hours as directed"))), "cd_dose") == []


@pytest.mark.parametrize(
    "words", [None, "", "twenty (28) tablets", "twenty-nine", "28"], ids=["none", "empty", "wrong", "other", "figures"]
)
def test_cd_quantity_in_words_must_match_figures(words: str | None) -> None:
    [result] = only(run_rules(facts(item(2, quantity_in_words=words))), "cd_quantity_in_words")
    assert result.outcome is Outcome.BLOCK


def test_cd_quantity_words_forms() -> None:
    assert quantity_in_words(Decimal(28), "tablet") == "twenty-eight (28) tablets"
    assert quantity_in_words(Decimal("2.5"), "ml") == "two point five (2.5) ml"
    assert quantity_in_words(Decimal(1), "ampoule") == "one (1) ampoule"
    assert words_match("Twenty eight (28) tablets", Decimal(28), "tablet")
    assert not words_match("eighty-two (28)", Decimal(28), "tablet")


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"patient_address": None}, "address"),
        ({"prescriber_registration": ""}, "registration"),
    ],
)
def test_cd_particulars_of_patient_and_prescriber(change: dict[str, object], missing: str) -> None:
    [result] = only(run_rules(facts(item(3), **change)), "cd_particulars")
    assert result.outcome is Outcome.BLOCK and missing in result.message


@pytest.mark.parametrize("field", ["form", "strength"])
def test_cd_particulars_of_the_product(field: str) -> None:
    [result] = only(run_rules(facts(item(2, **{field: None}))), "cd_particulars")
    assert field in result.message
    assert only(run_rules(facts(item(None, **{field: None}))), "cd_particulars") == []


@pytest.mark.parametrize("schedule", [2, 3])
def test_schedule_2_3_refused_on_repeat(schedule: int) -> None:
    [result] = only(run_rules(facts(item(schedule), is_repeat=True)), "cd_no_repeat")
    assert result.outcome is Outcome.BLOCK and "repeat" in result.message


@pytest.mark.parametrize("schedule", [4, 5, None])
def test_other_schedules_allowed_on_repeat(schedule: int | None) -> None:
    assert only(run_rules(facts(item(schedule), is_repeat=True)), "cd_no_repeat") == []


@pytest.mark.parametrize("schedule", [2, 3, 4])
def test_more_than_30_days_of_schedule_2_to_4_warns(schedule: int) -> None:
    [result] = only(run_rules(facts(item(schedule, days_supply=31))), "cd_days_supply")
    assert result.outcome is Outcome.WARN and "31 days" in result.message
    assert only(run_rules(facts(item(schedule, days_supply=30))), "cd_days_supply") == []


def test_cd_days_supply_missing_warns_but_not_for_schedule_5() -> None:
    [result] = only(run_rules(facts(item(3, days_supply=None))), "cd_days_supply")
    assert result.outcome is Outcome.WARN
    assert only(run_rules(facts(item(5, days_supply=90))), "cd_days_supply") == []


# -- allergies and duplicates -----------------------------------------------------------------------------


def allergy_to(ingredients: set[str], *, kind: str = "allergy", severity: str = "moderate") -> AllergyFacts:
    return AllergyFacts("Penicillins", frozenset(ingredients), None, kind, severity, "rash")


def test_allergy_to_an_ingredient_warns() -> None:
    results = run_rules(facts(allergies=(allergy_to({"111"}),), ingredient_names={"111": "Amoxicillin"}))
    [result] = only(results, "allergy")
    assert result.outcome is Outcome.WARN
    assert "Amoxicillin" in result.message and "Penicillins" in result.message and "rash" in result.message


def test_severe_allergy_blocks_and_intolerance_warns() -> None:
    [severe] = only(run_rules(facts(allergies=(allergy_to({"111"}, severity="severe"),))), "allergy")
    assert severe.outcome is Outcome.BLOCK
    [intolerance] = only(
        run_rules(facts(allergies=(allergy_to({"111"}, kind="intolerance", severity="severe"),))), "allergy"
    )
    assert intolerance.outcome is Outcome.WARN


def test_allergy_to_the_same_vtm_matches_without_shared_ingredients() -> None:
    vtm_allergy = AllergyFacts("Morphine", frozenset(), "900", "allergy", "mild", "itch")
    [result] = only(run_rules(facts(allergies=(vtm_allergy,))), "allergy")
    assert result.outcome is Outcome.WARN


def test_allergy_to_another_form_of_the_same_drug_warns_naming_what_the_product_lists() -> None:
    # Amoxicillin 125mg/5ml oral suspension lists Amoxicillin (111); the allergy is to Amoxicillin trihydrate (112),
    # whose basis of strength is Amoxicillin: the facts relate them, the rule must see it.
    suspension = item(related_ingredient_ids=frozenset({"111", "112"}))
    names = {"111": "Amoxicillin", "112": "Amoxicillin trihydrate"}
    results = run_rules(facts(suspension, allergies=(allergy_to({"112", "111"}),), ingredient_names=names))
    [result] = only(results, "allergy")
    assert result.outcome is Outcome.WARN and "contains Amoxicillin:" in result.message


def test_same_drug_in_another_form_on_an_active_prescription_warns() -> None:
    active = (ActiveMedicine("rx0", "Amoxicillin 500mg dispersible tablets", frozenset({"112"})),)
    with_forms = item(related_ingredient_ids=frozenset({"112"}))
    [result] = only(run_rules(facts(with_forms, active_medicines=active)), "duplicate_ingredient")
    assert "active prescription" in result.message
    assert only(run_rules(facts(item(), active_medicines=active)), "duplicate_ingredient") == []  # unrelated


def test_same_drug_in_two_forms_on_one_prescription_warns_once() -> None:
    first = item(ingredient_ids=frozenset({"112"}), related_ingredient_ids=frozenset({"111", "113"}))
    second = item(item_id="item2", name="Amoxicillin 125mg/5ml oral suspension",
                  related_ingredient_ids=frozenset({"112", "113"}))  # fmt: skip
    [result] = only(run_rules(facts(first, second)), "duplicate_ingredient")
    assert result.item_id == "item2"


def test_unrelated_allergy_says_nothing() -> None:
    assert only(run_rules(facts(allergies=(allergy_to({"222"}),))), "allergy") == []


def test_same_ingredient_on_an_active_prescription_warns() -> None:
    active = (ActiveMedicine("rx0", "Amoxicillin 250mg capsules", frozenset({"111"})),)
    [result] = only(run_rules(facts(active_medicines=active)), "duplicate_ingredient")
    assert result.outcome is Outcome.WARN and "active prescription" in result.message


def test_same_ingredient_twice_on_one_prescription_warns() -> None:
    second = item(item_id="item2", name="Amoxicillin 250mg/5ml oral suspension")
    [result] = only(run_rules(facts(item(), second)), "duplicate_ingredient")
    assert result.item_id == "item2"


def test_results_are_keyed_by_rule_and_item_for_overrides() -> None:
    [result] = only(run_rules(facts(item(3, days_supply=60))), "cd_days_supply")
    assert result.key == "cd_days_supply:item1"


def test_today_is_the_uk_date_not_the_utc_one(clinic: Clinic) -> None:
    from datetime import UTC, datetime

    clinic.clock.current = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 July in London (BST)
    assert clinic.prescriber.today() == date(2026, 7, 2)
    clinic.clock.current = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)  # GMT in winter
    assert clinic.prescriber.today() == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("words", "quantity", "unit", "matches"),
    [
        ("twenty-eight (28) tablets", 28, "tablet", True),
        ("Twenty eight tablets", 28, "tablet", True),
        ("one hundred and twelve (112) capsules", 112, "capsule", True),
        ("one hundred twelve", 112, "capsule", True),
        ("two point five (2.5) ml", "2.5", "ml", True),
        ("twenty-eight (28) tablets", 20, "tablet", False),  # words of another number
        ("one hundred tablets", 1, "tablet", False),
        ("sixty", 6, "tablet", False),
        ("twenty-eight (20) tablets", 28, "tablet", False),  # the figure in brackets disagrees
        ("twenty-eight (x) tablets", 28, "tablet", False),
        ("28 tablets", 28, "tablet", False),  # figures only
    ],
)
def test_quantity_words_must_say_exactly_the_quantity(
    words: str, quantity: int | str, unit: str, matches: bool
) -> None:
    assert words_match(words, Decimal(str(quantity)), unit) is matches


@pytest.mark.parametrize("dose", ["as directed by your doctor", "when required", "use sparingly"])
def test_cd_dose_must_state_an_amount(dose: str) -> None:
    [result] = only(run_rules(facts(item(2, dose=dose))), "cd_dose")
    assert result.outcome is Outcome.BLOCK


@pytest.mark.parametrize("dose", ["one tablet at night", "half a tablet twice daily", "2.5ml every 4 hours"])
def test_cd_doses_with_an_amount_pass(dose: str) -> None:
    assert only(run_rules(facts(item(2, dose=dose))), "cd_dose") == []
