"""Prescription states and the only legal moves between them (DESIGN.md §7: status only moves forward)."""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class PrescriptionStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    PARTIALLY_DISPENSED = "partially dispensed"
    DISPENSED = "dispensed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


S = PrescriptionStatus
TRANSITIONS: dict[PrescriptionStatus, frozenset[PrescriptionStatus]] = {
    S.DRAFT: frozenset({S.SIGNED, S.CANCELLED}),
    S.SIGNED: frozenset({S.PARTIALLY_DISPENSED, S.DISPENSED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_DISPENSED: frozenset({S.PARTIALLY_DISPENSED, S.DISPENSED, S.CANCELLED, S.EXPIRED}),
    S.DISPENSED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
# States in which the prescription is still to be supplied (the dispensing queue, duplicate-therapy checks).
ACTIVE = frozenset({S.SIGNED, S.PARTIALLY_DISPENSED})


def check_transition(current: str, target: PrescriptionStatus) -> None:
    """Raise InvalidTransition unless ``current`` may move to ``target``."""
    state = PrescriptionStatus(current)
    if target not in TRANSITIONS[state]:
        raise InvalidTransition(f"A {state.value} prescription cannot become {target.value}.")
