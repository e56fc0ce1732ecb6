"""The audit log as an admin reads it: newest first, filtered, with who did it by name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from core.audit.log import ChainReport, verify_chain
from core.context import ServiceContext
from core.storage.models import AuditEvent, User
from core.users.roles import Permission, require

DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class AuditRow:
    seq: int
    occurred_at: datetime
    user_name: str  # "system" for events without a user (sync, start-up)
    workstation: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def recent_events(ctx: ServiceContext, text: str = "", limit: int = DEFAULT_LIMIT) -> list[AuditRow]:
    """The newest ``limit`` events whose action, entity, workstation or user contain ``text`` (any case).
    ``text`` is bound as a parameter with LIKE's wildcards escaped: whatever is typed is searched as text."""
    require(ctx, Permission.VIEW_AUDIT)
    query = (
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    )
    needle = text.strip()
    if needle:
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        AuditEvent.action,
                        AuditEvent.entity_type,
                        AuditEvent.entity_id,
                        AuditEvent.workstation,
                        User.full_name,
                    )
                )
            )
        )
    with ctx.database.reader() as session:
        return [
            AuditRow(
                event.seq,
                event.occurred_at,
                name or "system",
                event.workstation,
                event.action,
                event.entity_type,
                event.entity_id,
                json.loads(event.before) if event.before else None,
                json.loads(event.after) if event.after else None,
            )
            for event, name in session.execute(query).all()
        ]


def verify_audit_log(ctx: ServiceContext) -> ChainReport:
    """Walk the whole hash chain: an event changed or removed after it was written shows as the first break."""
    require(ctx, Permission.VIEW_AUDIT)
    with ctx.database.reader() as session:
        return verify_chain(session)
