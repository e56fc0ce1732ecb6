"""Pending card top-ups (core.tokens.top_ups): kept in the settings until their credit is in the ledger."""

from __future__ import annotations

import json

import pytest

from core.audit.viewer import recent_events
from core.errors import PermissionDenied, ValidationError
from core.settings import read_setting
from core.storage.models import LedgerEntry
from core.tokens.ledger import create_account
from core.tokens.top_ups import (
    PENDING_TOP_UPS_SETTING,
    clear_arrived_top_ups,
    pending_top_up_tokens,
    pending_top_ups,
    record_top_up,
)
from sync.billing import credit_entry_id
from tests.clinic import Clinic

PI = "pi_0123456789abcdefghij"


def arrive(clinic: Clinic, account_id: str, credit_id: str, tokens: int) -> None:
    """The credit as a pull writes it: the server's row, id and all, confirmed."""
    entry = LedgerEntry(id=credit_id, account_id=account_id, kind="credit", amount=tokens,
                        description="Card top-up (small)", created_by=None, created_at=clinic.clock(),
                        confirmed=True)  # fmt: skip
    with clinic.database.transaction() as session:
        session.add(entry)


def test_a_paid_top_up_waits_for_its_credit_and_is_cleared_when_it_arrives(clinic: Clinic) -> None:
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    credit = credit_entry_id(PI)
    assert credit.startswith("cr") and len(credit) == 32
    top_up = record_top_up(
        clinic.admin, account_id=pool, payment_id="py" + "0" * 30, credit_id=credit, pack="small", tokens=100
    )
    again = record_top_up(
        clinic.admin, account_id=pool, payment_id="py" + "0" * 30, credit_id=credit, pack="small", tokens=100
    )
    assert again == top_up  # the page told us twice: still one
    assert pending_top_ups(clinic.prescriber) == [top_up]  # anyone who sees balances sees it
    assert pending_top_up_tokens(clinic.admin, pool) == 100
    assert pending_top_up_tokens(clinic.admin, "another-account") == 0
    with clinic.database.reader() as session:
        stored = json.dumps(read_setting(session, PENDING_TOP_UPS_SETTING))
    assert "secret" not in stored and PI not in stored  # ids only: nothing of the card or the client secret
    [event] = [e for e in recent_events(clinic.admin) if e.action == "tokens.top_up_paid"]
    assert event.entity_id == pool

    arrive(clinic, pool, credit, 100)
    assert pending_top_ups(clinic.admin) == []
    assert pending_top_up_tokens(clinic.admin, pool) == 0
    assert clear_arrived_top_ups(clinic.admin) == 0  # already cleared by the listing


def test_a_top_up_whose_credit_never_comes_is_forgotten_after_a_week(clinic: Clinic) -> None:
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    record_top_up(
        clinic.admin, account_id=pool, payment_id="py" + "1" * 30, credit_id=credit_entry_id(PI), pack="large",
        tokens=1000,
    )  # fmt: skip
    clinic.clock.advance(days=6)
    assert pending_top_up_tokens(clinic.admin, pool) == 1000
    clinic.clock.advance(days=1)
    assert pending_top_up_tokens(clinic.admin, pool) == 0


def test_what_a_top_up_record_refuses(clinic: Clinic) -> None:
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    with pytest.raises(ValidationError):
        record_top_up(clinic.admin, account_id=pool, payment_id="py1", credit_id="cr1", pack="small", tokens=0)
    with pytest.raises(ValidationError):
        record_top_up(
            clinic.admin, account_id=pool, payment_id="py1", credit_id="pi_1_secret_abc", pack="small", tokens=1
        )
    with pytest.raises(PermissionDenied):
        record_top_up(clinic.technician, account_id=pool, payment_id="py1", credit_id="cr1", pack="small", tokens=1)
