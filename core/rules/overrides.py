"""A warning overridden with a typed reason: kept as a row (printed, synced) and audited."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.ids import new_id
from core.outbox import enqueue
from core.rules.model import RuleResult
from core.storage.models import RuleOverride
from core.storage.pending_rows import queue_object


def record_override(
    session: Session, ctx: ServiceContext, prescription_id: str, warning: RuleResult, reason: str, action: str
) -> None:
    """``action`` names the step overridden in the audit trail: ``prescription.override``, ``dispensing.override``."""
    override = RuleOverride(
        id=new_id(),
        prescription_id=prescription_id,
        item_id=warning.item_id,
        rule=warning.rule,
        message=warning.message,
        reason=reason,
        user_id=ctx.actor.user_id,
        created_at=ctx.now(),
    )
    queue_object(session, override)
    record_event(
        session, ctx, action, "prescription", prescription_id,
        after={"rule": warning.rule, "item": warning.item_id, "warning": warning.message, "reason": reason},
    )  # fmt: skip
    enqueue(session, ctx, override)
