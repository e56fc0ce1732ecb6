"""What the dispensing services take and give back, and the states of items and owings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from core.errors import InvalidTransition, RxDeskError
from core.rules.model import Outcome, RuleResult


class ItemSupply(StrEnum):
    """``PrescriptionItem.status``: how much of the item has been supplied."""

    PENDING = "pending"  # nothing supplied yet, no dispensing so far
    OWING = "owing"  # part or none supplied; the rest is an open owing
    SUPPLIED = "supplied"
    EXPIRED = "expired"  # not supplied in full before its validity ended: nothing more can be supplied


class OwingStatus(StrEnum):
    OPEN = "open"
    READY = "ready"  # the stock has arrived and the rest is ready for collection: the patient is told
    SUPPLIED = "supplied"  # closed by a supply; any remainder is owed by a new open owing
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# Still owed (open or ready for collection): what may be supplied, expires or is cancelled with its prescription.
OUTSTANDING_OWINGS: tuple[str, ...] = (OwingStatus.OPEN.value, OwingStatus.READY.value)

# The moves an owing may make (a status only moves forward: sync/tables.py STATUS_RANKS agrees).
OWING_MOVES: dict[OwingStatus, frozenset[OwingStatus]] = {
    OwingStatus.OPEN: frozenset({OwingStatus.READY, OwingStatus.SUPPLIED, OwingStatus.EXPIRED, OwingStatus.CANCELLED}),
    OwingStatus.READY: frozenset({OwingStatus.SUPPLIED, OwingStatus.EXPIRED, OwingStatus.CANCELLED}),
    OwingStatus.SUPPLIED: frozenset(),
    OwingStatus.EXPIRED: frozenset(),
    OwingStatus.CANCELLED: frozenset(),
}
_OWING_ENDED = {
    OwingStatus.READY: "is ready for collection already",
    OwingStatus.SUPPLIED: "has been supplied",
    OwingStatus.EXPIRED: "has expired",
    OwingStatus.CANCELLED: "was cancelled with its prescription",
}


def check_owing_move(current: str, target: OwingStatus) -> None:
    """InvalidTransition unless an owing may move from ``current`` to ``target``."""
    if target not in OWING_MOVES.get(OwingStatus(current), frozenset()):
        raise InvalidTransition(f"That owing {_OWING_ENDED.get(OwingStatus(current), 'cannot change')}.")


@dataclass(frozen=True)
class SupplyLine:
    """Supply ``quantity`` (in the item's unit) of one prescription item, from the pack scanned (if scanned)."""

    item_id: str
    quantity: Decimal | int | str
    gtin: str | None = None


@dataclass(frozen=True)
class SuppliedLine:
    line_id: str
    item_id: str
    product_name: str  # the pack scanned, else the product prescribed
    quantity: Decimal
    unit: str
    ampp_id: str | None
    gtin: str | None


@dataclass(frozen=True)
class OwingInfo:
    owing_id: str
    item_id: str
    product_name: str
    quantity: Decimal
    unit: str
    expires_on: date  # the last day it may be supplied
    status: str = OwingStatus.OPEN.value


@dataclass(frozen=True)
class OpenOwing:
    """An owing on the pharmacy's list: what is owed, to whom, on which prescription, since when."""

    owing: OwingInfo
    prescription_id: str
    patient_name: str  # "FAMILY, Given", as the counter lists patients
    owed_since: datetime


@dataclass(frozen=True)
class DispensingResult:
    dispensing_id: str
    prescription_id: str
    prescription_status: str  # after this dispensing
    lines: tuple[SuppliedLine, ...]
    owings: tuple[OwingInfo, ...]  # every open owing of the prescription after this dispensing
    cd_register_entry_ids: tuple[str, ...]
    overrides: tuple[RuleResult, ...]  # the warnings overridden, with reasons recorded


class DispensingRefused(RxDeskError):
    """Nothing was dispensed: a check blocks, or a warning has no reason. ``results`` lists them all."""

    def __init__(self, results: list[RuleResult]) -> None:
        self.results = results
        blocks = [r.message for r in results if r.outcome is Outcome.BLOCK]
        if blocks:
            text = ["This cannot be dispensed:", *blocks]
        else:
            text = ["Each warning needs a reason before dispensing:", *(r.message for r in results)]
        super().__init__(" ".join(text))

    @property
    def blocked(self) -> bool:
        return any(r.outcome is Outcome.BLOCK for r in self.results)
