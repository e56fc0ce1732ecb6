"""The checks a prescription passes before signing: one row per UK rule (DESIGN.md §5), each a pure function.

A rule sees only ``PrescriptionFacts`` (gathered by the prescription service from the app database and the dm+d
replica), so every rule is tested on its own, without a database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from core.prescriptions.quantity_words import words_match
from core.rules.model import Outcome, RuleResult
from core.rules.validity import prescription_validity

# Schedules by what the law asks of them.
CD_WRITING_SCHEDULES = frozenset({2, 3})  # full CD particulars, dose, quantity in words and figures; no repeats
CD_28_DAY_SCHEDULES = frozenset({2, 3, 4})
MAX_CD_DAYS = 30  # more is allowed but against guidance: a warning
_AMOUNT_WORDS = frozenset(
    {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
    | {"fifteen", "twenty", "thirty", "half", "quarter"}
)
AS_DIRECTED = frozenset({"as directed", "as dir", "ad", "use as directed", "take as directed", "mdu", "as advised"})


@dataclass(frozen=True)
class ItemFacts:
    item_id: str
    name: str
    cd_schedule: int | None
    strength: str | None
    form: str | None
    unit: str
    dose: str
    quantity: Decimal
    quantity_in_words: str | None
    days_supply: int | None
    ingredient_ids: frozenset[str]
    vtm_id: str | None
    unusable: str | None  # from the current catalogue: invalid, discontinued, not available
    # Other forms of the same active moieties (a salt's basis of strength and its other salts): the same drug to an
    # allergy or a duplicate check (core.prescriptions.products.with_related_substances).
    related_ingredient_ids: frozenset[str] = frozenset()

    @property
    def substances(self) -> frozenset[str]:
        return self.ingredient_ids | self.related_ingredient_ids


@dataclass(frozen=True)
class AllergyFacts:
    substance_name: str
    # The allergen's ingredients (a VTM allergy expands to its ingredients) and their related forms.
    ingredient_ids: frozenset[str]
    vtm_id: str | None
    kind: str  # allergy | intolerance
    severity: str  # mild | moderate | severe
    reaction: str


@dataclass(frozen=True)
class ActiveMedicine:
    prescription_id: str
    name: str
    ingredient_ids: frozenset[str]


@dataclass(frozen=True)
class PrescriptionFacts:
    today: date
    not_before: date | None
    is_repeat: bool
    patient_address: str | None
    prescriber_registration: str | None
    items: tuple[ItemFacts, ...]
    allergies: tuple[AllergyFacts, ...] = ()
    active_medicines: tuple[ActiveMedicine, ...] = ()
    ingredient_names: dict[str, str] = field(default_factory=dict)


Check = Callable[[PrescriptionFacts], Iterator[RuleResult]]


@dataclass(frozen=True)
class Rule:
    code: str
    description: str
    check: Check


def _block(rule: str, message: str, item: ItemFacts | None = None) -> RuleResult:
    return RuleResult(rule, Outcome.BLOCK, message, item.item_id if item else None)


def _warn(rule: str, message: str, item: ItemFacts | None = None) -> RuleResult:
    return RuleResult(rule, Outcome.WARN, message, item.item_id if item else None)


def has_items(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    if not facts.items:
        yield _block("has_items", "The prescription has no items.")


def product_usable(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        if item.unusable:
            yield _block("product_usable", f"{item.name} is {item.unusable} in the current dm+d release.", item)


def schedule_1(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        if item.cd_schedule == 1:
            yield _block("schedule_1", f"{item.name} is a Schedule 1 controlled drug: it cannot be prescribed.", item)


def validity(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    """A start date so far back that the prescription would be out of date the day it is signed."""
    if facts.not_before is None or facts.not_before >= facts.today:
        return
    period = prescription_validity([i.cd_schedule for i in facts.items])
    if period.last_valid_day(facts.not_before) < facts.today:
        yield _block(
            "validity",
            f"A prescription dated {facts.not_before:%d/%m/%Y} is valid for {period.description}: it has expired.",
        )


def cd_dose(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        if item.cd_schedule not in CD_WRITING_SCHEDULES:
            continue
        dose = " ".join(item.dose.lower().replace(".", " ").split())
        if not dose or dose in AS_DIRECTED or not _states_an_amount(dose):
            yield _block(
                "cd_dose",
                f"{item.name} is a Schedule {item.cd_schedule} controlled drug: give a dose "
                "(\u201cas directed\u201d alone is not allowed).",
                item,
            )


def _states_an_amount(dose: str) -> bool:
    """A dose says how much: a figure or a number word ("as directed by your doctor" says nothing)."""
    return bool(re.search(r"\d", dose)) or any(word in _AMOUNT_WORDS for word in re.split(r"[\s\-]+", dose))


def cd_quantity_in_words(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        if item.cd_schedule in CD_WRITING_SCHEDULES and not words_match(
            item.quantity_in_words, item.quantity, item.unit
        ):
            yield _block(
                "cd_quantity_in_words",
                f"{item.name}: the total quantity must be in words and figures, and the words must match "
                f"{format(item.quantity, 'f')}.",
                item,
            )


def cd_particulars(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        if item.cd_schedule not in CD_WRITING_SCHEDULES:
            continue
        missing = [
            what
            for what, value in (
                ("the patient's address", facts.patient_address),
                ("the form", item.form),
                ("the strength", item.strength),
                ("the prescriber's registration number", facts.prescriber_registration),
            )
            if not (value or "").strip()
        ]
        if missing:
            yield _block(
                "cd_particulars",
                f"{item.name} is a Schedule {item.cd_schedule} controlled drug: {', '.join(missing)} must be given.",
                item,
            )


def cd_no_repeat(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    if not facts.is_repeat:
        return
    for item in facts.items:
        if item.cd_schedule in CD_WRITING_SCHEDULES:
            yield _block(
                "cd_no_repeat",
                f"{item.name} is a Schedule {item.cd_schedule} controlled drug: it cannot be on a repeat prescription.",
                item,
            )


def cd_days_supply(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        if item.cd_schedule not in CD_28_DAY_SCHEDULES:
            continue
        if item.days_supply is None:
            yield _warn(
                "cd_days_supply",
                f"{item.name} is a Schedule {item.cd_schedule} controlled drug: the days' supply is not given "
                f"(guidance: no more than {MAX_CD_DAYS} days).",
                item,
            )
        elif item.days_supply > MAX_CD_DAYS:
            yield _warn(
                "cd_days_supply",
                f"{item.name}: {item.days_supply} days' supply of a Schedule {item.cd_schedule} controlled drug is "
                f"more than the {MAX_CD_DAYS} days guidance allows.",
                item,
            )


def allergy(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    for item in facts.items:
        for known in facts.allergies:
            shared = item.substances & known.ingredient_ids
            same_vtm = known.vtm_id is not None and known.vtm_id == item.vtm_id
            if not shared and not same_vtm:
                continue
            named = (item.ingredient_ids & shared) or shared  # what the product itself lists, where it can
            names = ", ".join(sorted(facts.ingredient_names.get(i, i) for i in named)) or known.substance_name
            message = (
                f"{item.name} contains {names}: the patient has a recorded {known.severity} {known.kind} "
                f"to {known.substance_name} ({known.reaction})."
            )
            # A severe allergy is never overridden at the keyboard; anything else needs a typed reason.
            if known.kind == "allergy" and known.severity == "severe":
                yield _block("allergy", message, item)
            else:
                yield _warn("allergy", message, item)


def duplicate_ingredient(facts: PrescriptionFacts) -> Iterator[RuleResult]:
    seen: dict[str, str] = {}
    for item in facts.items:
        for other in facts.active_medicines:
            shared = item.substances & other.ingredient_ids
            if shared:
                names = ", ".join(sorted(facts.ingredient_names.get(i, i) for i in shared))
                yield _warn(
                    "duplicate_ingredient",
                    f"{item.name}: the patient already has {names} on an active prescription ({other.name}).",
                    item,
                )
        twice = sorted(i for i in item.substances if i in seen and seen[i] != item.item_id)
        if twice:
            named = [i for i in twice if i in item.ingredient_ids] or twice
            name = ", ".join(facts.ingredient_names.get(i, i) for i in named)
            yield _warn("duplicate_ingredient", f"{item.name}: {name} is on this prescription twice.", item)
        for ingredient in item.substances:
            seen.setdefault(ingredient, item.item_id)


SIGNING_RULES: tuple[Rule, ...] = (
    Rule("has_items", "A prescription has at least one item", has_items),
    Rule("product_usable", "Invalid, discontinued or unavailable products are refused", product_usable),
    Rule("schedule_1", "Schedule 1 controlled drugs are refused", schedule_1),
    Rule("validity", "6 months' validity; 28 days for Schedule 2, 3 and 4", validity),
    Rule("cd_dose", "Schedule 2/3: a dose is required; 'as directed' alone is refused", cd_dose),
    Rule("cd_quantity_in_words", "Schedule 2/3: total quantity in words and figures", cd_quantity_in_words),
    Rule("cd_particulars", "Schedule 2/3: patient address, form, strength, prescriber details", cd_particulars),
    Rule("cd_no_repeat", "Schedule 2/3 are refused on repeat prescriptions", cd_no_repeat),
    Rule("cd_days_supply", "More than 30 days of Schedule 2-4 warns", cd_days_supply),
    Rule("allergy", "Ingredients against the patient's allergies", allergy),
    Rule("duplicate_ingredient", "The same ingredient already on an active prescription warns", duplicate_ingredient),
)


def run_rules(facts: PrescriptionFacts, rules: tuple[Rule, ...] = SIGNING_RULES) -> list[RuleResult]:
    return [result for rule in rules for result in rule.check(facts)]
