"""Rule outcomes: allow, warn (overridable with a typed, audited reason) or block."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import RxDeskError


class Outcome(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"


@dataclass(frozen=True)
class RuleResult:
    rule: str
    outcome: Outcome
    message: str
    item_id: str | None = None  # None: about the whole prescription

    @property
    def key(self) -> str:
        """What an override names: the rule and the item it is about."""
        return f"{self.rule}:{self.item_id or '*'}"


MIN_OVERRIDE_REASON = 5


class RulesNotSatisfied(RxDeskError):
    """Signing refused: a rule blocks, or a warning has no override reason. ``results`` lists them all."""

    def __init__(self, results: list[RuleResult]) -> None:
        self.results = results
        blocks = [r for r in results if r.outcome is Outcome.BLOCK]
        if blocks:
            lines = [r.message for r in blocks]
            head = "The prescription cannot be signed:"
        else:
            lines = [r.message for r in results if r.outcome is Outcome.WARN]
            head = "Each warning needs a reason before signing:"
        super().__init__(" ".join([head, *lines]))

    @property
    def blocked(self) -> bool:
        return any(r.outcome is Outcome.BLOCK for r in self.results)
