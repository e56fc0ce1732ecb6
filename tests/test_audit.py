"""The audit log: every state change recorded with who, when, where, what, before and after; tampering detected."""

from __future__ import annotations

import itertools
import json
import sqlite3

from sqlalchemy import select

from core.audit.log import GENESIS_HASH, audit_trail, verify_chain
from core.storage.models import AuditEvent
from core.tokens.ledger import add_credit, create_account
from tests.clinic import Clinic


def _events(clinic: Clinic) -> list[AuditEvent]:
    with clinic.database.reader() as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_events_are_chained_from_genesis(clinic: Clinic) -> None:
    events = _events(clinic)
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    with clinic.database.reader() as session:
        assert verify_chain(session).intact


def test_event_says_who_when_where_what_before_after(clinic: Clinic) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 25, "Top-up")
    event = _events(clinic)[-1]
    assert event.action == "tokens.credit"
    assert event.user_id == clinic.admin.actor.user_id
    assert event.workstation == "test-ws"
    assert event.occurred_at == clinic.clock()
    assert json.loads(event.after or "{}")["amount"] == 25
    with clinic.database.reader() as session:
        assert [e.action for e in audit_trail(session, "token_account", account.id)] == ["tokens.account_create"]


def tamper(clinic: Clinic, sql: str) -> None:
    """What an attacker with the file would do: lift the append-only trigger, then edit."""
    with sqlite3.connect(clinic.database.path) as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("DROP TRIGGER audit_event_no_delete")
        conn.execute(sql)


def test_changed_event_is_reported_as_the_first_broken_link(clinic: Clinic) -> None:
    target = _events(clinic)[3]
    tamper(clinic, f"UPDATE audit_event SET after = '{{\"amount\": 1}}' WHERE seq = {target.seq}")
    with clinic.database.reader() as session:
        report = verify_chain(session)
    assert report.first_broken_seq == target.seq
    assert report.problem and "changed after it was written" in report.problem


def test_removed_event_breaks_the_chain_at_the_next_one(clinic: Clinic) -> None:
    events = _events(clinic)
    tamper(clinic, f"DELETE FROM audit_event WHERE seq = {events[2].seq}")
    with clinic.database.reader() as session:
        report = verify_chain(session)
    assert report.first_broken_seq == events[3].seq
    assert report.problem and "does not follow" in report.problem


def test_rehashed_event_still_breaks_the_next_link(clinic: Clinic) -> None:
    events = _events(clinic)
    tamper(clinic, f"UPDATE audit_event SET hash = '{'f' * 64}' WHERE seq = {events[1].seq}")
    with clinic.database.reader() as session:
        assert verify_chain(session).first_broken_seq == events[1].seq


def test_a_clock_in_uk_summer_time_still_verifies(clinic: Clinic) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    clinic.admin.clock = lambda: datetime(2026, 7, 1, 0, 30, tzinfo=ZoneInfo("Europe/London"))
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 5, "Summer top-up")
    with clinic.database.reader() as session:
        assert verify_chain(session).intact
