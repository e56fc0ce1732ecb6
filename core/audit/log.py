"""Record audit events in a hash chain, and verify the chain.

Each event's hash covers its own fields and the previous event's hash, so changing, inserting or removing an event
anywhere breaks every link after it; ``verify_chain`` reports the first broken one. SQLite triggers make the table
append-only as well, so tampering needs deliberate work outside RxDesk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import ServiceContext
from core.ids import new_id
from core.outbox import enqueue_payload
from core.storage.models import AuditEvent
from core.storage.pending_rows import queue_row
from core.storage.raw import fetch_one

GENESIS_HASH = "0" * 64
_HEAD_KEY = "audit_chain_head"


def canonical_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_HASHED = ("id", "occurred_at", "user_id", "workstation", "action", "entity_type", "entity_id", "before", "after")


def event_hash(prev_hash: str, event: AuditEvent | Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's fields (a stored event, or the row about to be written)."""
    values = event if isinstance(event, Mapping) else {name: getattr(event, name) for name in _HASHED}
    fields = [prev_hash]
    for name in _HASHED:
        value = values[name]
        fields.append(value.isoformat(timespec="microseconds") if name == "occurred_at" else (value or ""))
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def load_chain_head(session: Session) -> str:
    """The hash of the last event. Read once per transaction, then carried in the session (a session is one
    transaction, and BEGIN IMMEDIATE keeps other writers out until it ends). Call it before a transaction's first
    write to save a flush."""
    head = session.info.get(_HEAD_KEY)
    if head is None:
        last = fetch_one(session, "SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1")
        head = session.info[_HEAD_KEY] = last[0] if last else GENESIS_HASH
    return str(head)


def record_event(
    session: Session,
    ctx: ServiceContext,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> str:
    """Append one event to the chain, in the caller's transaction (BEGIN IMMEDIATE serialises writers)."""
    prev_hash = load_chain_head(session)
    row: dict[str, Any] = {
        "id": new_id(),
        "occurred_at": ctx.now().astimezone(UTC),  # hashed as stored: in UTC, whatever the clock's zone
        "user_id": ctx.actor.user_id,
        "workstation": ctx.workstation,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "before": canonical_json(before),
        "after": canonical_json(after),
        "prev_hash": prev_hash,
    }
    row["hash"] = session.info[_HEAD_KEY] = event_hash(prev_hash, row)
    # Queued, not added: written in one INSERT per transaction, in this order, so seq follows the chain.
    queue_row(session, AuditEvent.__table__, row)
    enqueue_payload(session, ctx, "audit_event", row)  # the server keeps every workstation's trail
    return str(row["id"])


@dataclass(frozen=True)
class ChainReport:
    events: int
    first_broken_seq: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain in order; report the first event whose link or content does not match."""
    prev_hash = GENESIS_HASH
    count = 0
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
        count += 1
        if event.prev_hash != prev_hash:
            return ChainReport(count, event.seq, f"event {event.seq} does not follow the event before it")
        if event_hash(prev_hash, event) != event.hash:
            return ChainReport(count, event.seq, f"event {event.seq} ({event.action}) was changed after it was written")
        prev_hash = event.hash
    return ChainReport(count, None, None)


def audit_trail(session: Session, entity_type: str, entity_id: str) -> list[AuditEvent]:
    rows = session.execute(
        select(AuditEvent)
        .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
        .order_by(AuditEvent.seq)
    )
    return list(rows.scalars())


def as_of(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
