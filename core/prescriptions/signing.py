"""Signing: PIN again, every rule, then in one transaction the status, token debit, audit events and outbox rows.

A repeat prescription is signed as a batch: issue 1 and every later issue, each a prescription of its own with its
start date one interval after the one before, so each issue is dispensed, owed and expired on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core.audit.log import load_chain_head, record_event
from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.ids import new_id
from core.outbox import enqueue
from core.prescriptions.checks import gather_facts
from core.prescriptions.queries import load_detached
from core.prescriptions.status import PrescriptionStatus, check_transition
from core.rules.model import MIN_OVERRIDE_REASON, Outcome, RuleResult, RulesNotSatisfied
from core.rules.overrides import record_override
from core.rules.prescribing import run_rules
from core.rules.validity import valid_until
from core.storage.models import Prescription, PrescriptionItem
from core.storage.pending_rows import queue_object
from core.storage.raw import update_row
from core.tokens.costs import issue_costs, read_cost_table
from core.tokens.ledger import account_for_prescriber, debit_for_prescription
from core.users.roles import Permission, require
from core.users.service import verify_pin

# What signing sets on the draft's row.
_SIGNING_COLUMNS = (
    "status",
    "signed_at",
    "updated_at",
    "appropriate_date",
    "valid_until",
    "token_cost",
    "repeat_group_id",
)
# What each later issue of a repeat copies from issue 1.
_COPIED_ITEM_FIELDS = (
    "position",
    "vmp_id",
    "amp_id",
    "product_name",
    "strength",
    "form",
    "unit",
    "cd_schedule",
    "ingredient_ids",
    "dose",
    "directions",
    "quantity",
    "quantity_in_words",
    "days_supply",
)


@dataclass(frozen=True)
class SignedPrescription:
    prescription_ids: tuple[str, ...]  # issue 1 first; one id unless a repeat
    token_cost: int
    overrides: tuple[RuleResult, ...]


def _unresolved(results: list[RuleResult], overrides: Mapping[str, str]) -> list[RuleResult]:
    """Blocks, and warnings without a real reason."""
    return [
        r
        for r in results
        if r.outcome is Outcome.BLOCK
        or (r.outcome is Outcome.WARN and len(overrides.get(r.key, "").strip()) < MIN_OVERRIDE_REASON)
    ]


def sign_prescription(
    ctx: ServiceContext,
    catalogue: Catalogue,
    prescription_id: str,
    pin: str,
    overrides: Mapping[str, str] | None = None,
) -> SignedPrescription:
    """Sign a draft. Raises SignInFailed (PIN), RulesNotSatisfied, InsufficientTokens; nothing is written then."""
    require(ctx, Permission.PRESCRIBE)
    verify_pin(ctx, pin)
    return sign_verified(ctx, catalogue, prescription_id, overrides or {})


def sign_verified(
    ctx: ServiceContext, catalogue: Catalogue, prescription_id: str, overrides: Mapping[str, str]
) -> SignedPrescription:
    """The signing transaction itself, once the prescriber's PIN has been checked."""
    require(ctx, Permission.PRESCRIBE)
    with ctx.database.transaction() as session:
        # Detached copies, changed in memory and written explicitly: no ORM unit of work on the hot path.
        rx = load_detached(session, prescription_id)
        check_transition(rx.status, PrescriptionStatus.SIGNED)
        if rx.prescriber_id != ctx.actor.user_id:
            raise RulesNotSatisfied([RuleResult("own_draft", Outcome.BLOCK, "Only its prescriber can sign it.")])
        results = run_rules(gather_facts(session, ctx, catalogue, rx))
        unresolved = _unresolved(results, overrides)
        if unresolved:
            raise RulesNotSatisfied(unresolved)
        warnings = tuple(r for r in results if r.outcome is Outcome.WARN)
        costs = read_cost_table(session)
        account = account_for_prescriber(session, ctx.actor.user_id)
        costs_per_issue = issue_costs(costs, [i.cd_schedule for i in rx.items], rx.repeat_total)
        total = sum(costs_per_issue)
        load_chain_head(session)
        issues = _issues(ctx, rx)
        for issue, cost in zip(issues, costs_per_issue, strict=True):
            issue.token_cost = cost
        # Outbox order is push order: the prescriptions and items first, then what refers to them.
        _write_issues(session, issues)
        for issue in issues:
            record_event(
                session, ctx, "prescription.sign", "prescription", issue.id,
                before={"status": PrescriptionStatus.DRAFT.value},
                after={"status": issue.status, "valid_until": issue.valid_until, "token_cost": issue.token_cost},
            )  # fmt: skip
            enqueue(session, ctx, issue)
            for item in issue.items:
                enqueue(session, ctx, item)
        for warning in warnings:
            record_override(session, ctx, rx.id, warning, overrides[warning.key].strip(), "prescription.override")
        what = f"{len(rx.items)} item(s)" + (f", {len(costs_per_issue)} repeat issues" if rx.repeat_total else "")
        # Refused past the overdraft limit: the whole transaction, the update above included, is rolled back.
        debit_for_prescription(session, ctx, account, total, rx.id, f"Prescription {rx.id[-8:]}: {what}")
        return SignedPrescription(tuple(i.id for i in issues), total, warnings)


def _write_issues(session: Session, issues: list[Prescription]) -> None:
    """Issue 1 was a draft row: update it. Later issues of a repeat are new rows, items after their prescription."""
    first = issues[0]
    update_row(session, Prescription.__table__, first.id, {name: getattr(first, name) for name in _SIGNING_COLUMNS})
    for issue in issues[1:]:
        queue_object(session, issue)
        for item in issue.items:
            queue_object(session, item)


def _issues(ctx: ServiceContext, rx: Prescription) -> list[Prescription]:
    """Sign the draft as issue 1, and create the later issues of a repeat as signed copies."""
    now = ctx.now()
    schedules = [item.cd_schedule for item in rx.items]
    start = max(ctx.today(), rx.not_before or ctx.today())
    rx.status = PrescriptionStatus.SIGNED.value
    rx.signed_at = now
    rx.updated_at = now
    rx.appropriate_date = start
    rx.valid_until = valid_until(start, schedules)
    issues = [rx]
    if rx.repeat_total:
        rx.repeat_group_id = rx.id
        interval = timedelta(days=rx.repeat_interval_days or 28)
        for number in range(2, rx.repeat_total + 1):
            issue_start = start + interval * (number - 1)
            issue = Prescription(
                id=new_id(),
                organisation_id=rx.organisation_id,
                patient_id=rx.patient_id,
                prescriber_id=rx.prescriber_id,
                status=PrescriptionStatus.SIGNED.value,
                not_before=issue_start,
                appropriate_date=issue_start,
                valid_until=valid_until(issue_start, schedules),
                repeat_issue=number,
                repeat_total=rx.repeat_total,
                repeat_interval_days=rx.repeat_interval_days,
                repeat_group_id=rx.id,
                created_at=now,
                signed_at=now,
                updated_at=now,
            )
            issue.items = [_copy_item(item, issue.id) for item in rx.items]
            issues.append(issue)
    return issues


def _copy_item(item: PrescriptionItem, prescription_id: str) -> PrescriptionItem:
    copy = PrescriptionItem(
        id=new_id(), prescription_id=prescription_id, quantity_supplied=Decimal(0), status="pending"
    )
    for name in _COPIED_ITEM_FIELDS:
        setattr(copy, name, getattr(item, name))
    return copy
