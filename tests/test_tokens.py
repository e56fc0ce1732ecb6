"""Token accounts: the append-only ledger, derived balances, offline availability, corrections, statements."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import PermissionDenied, ValidationError
from core.storage.models import LedgerEntry, TokenAccount
from core.tokens.costs import CostTable
from core.tokens.ledger import (
    add_correction,
    add_credit,
    available_balance,
    create_account,
    ledger_balance,
    record_server_balance,
    statement,
)
from tests.clinic import Clinic


def test_item_costs_from_the_table() -> None:
    table = CostTable(per_item=10, controlled_drug_surcharge=5, repeat_issue_discount=4)
    assert table.item_cost(None, None) == 10
    assert table.item_cost(5, None) == 15
    assert table.item_cost(2, 1) == 15
    assert table.item_cost(2, 2) == 11
    assert CostTable(per_item=2, repeat_issue_discount=5).item_cost(None, 3) == 0  # never negative


def test_balance_is_derived_from_the_ledger(clinic: Clinic) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 100, "Top-up")
    wrong = add_credit(clinic.admin, account.id, 50, "Entered twice")
    add_correction(clinic.admin, wrong.id, -50, "Duplicate top-up")
    with clinic.database.reader() as session:
        assert ledger_balance(session, account.id) == 100
        correction = session.execute(select(LedgerEntry).where(LedgerEntry.kind == "correction")).scalar_one()
        assert correction.corrects_id == wrong.id


def test_available_balance_is_last_confirmed_plus_pending(clinic: Clinic) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    first = add_credit(clinic.admin, account.id, 30, "Top-up")
    add_credit(clinic.admin, account.id, 7, "Later top-up")
    with clinic.database.reader() as session:
        assert available_balance(session, session.get_one(TokenAccount, account.id)) == 37  # nothing confirmed yet
    with clinic.database.transaction() as session:
        # A sync: the server holds 230 (a card top-up of 200 from another workstation) and has seen ``first``.
        record_server_balance(session, account.id, 230, [first.id], clinic.clock())
    with clinic.database.reader() as session:
        assert available_balance(session, session.get_one(TokenAccount, account.id)) == 230 + 7
        assert ledger_balance(session, account.id) == 37  # this workstation's own ledger is unchanged


def test_ledger_rows_cannot_be_changed_or_deleted(clinic: Clinic) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 10, "Top-up")
    with sqlite3.connect(clinic.database.path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE ledger_entry SET amount = 1000")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM ledger_entry")
        conn.execute("UPDATE ledger_entry SET confirmed = 1")  # all a sync may change


@pytest.mark.parametrize(
    ("amount", "description", "message"), [(0, "x", "positive"), (-5, "x", "positive"), (5, "  ", "what the credit")]
)
def test_bad_credits_are_refused(clinic: Clinic, amount: int, description: str, message: str) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    with pytest.raises(ValidationError, match=message):
        add_credit(clinic.admin, account.id, amount, description)


def test_only_admins_manage_tokens(clinic: Clinic) -> None:
    with pytest.raises(PermissionDenied):
        create_account(clinic.prescriber, "organisation", clinic.clinic.id)
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    with pytest.raises(PermissionDenied):
        add_credit(clinic.pharmacist, account.id, 10, "Sneaky")
    with pytest.raises(ValidationError, match="already has"):
        create_account(clinic.admin, "organisation", clinic.clinic.id)


def test_statement_has_opening_running_and_closing_balances(clinic: Clinic) -> None:
    account = create_account(clinic.admin, "organisation", clinic.clinic.id)
    add_credit(clinic.admin, account.id, 100, "Opening top-up")
    clinic.clock.advance(days=10)
    add_credit(clinic.admin, account.id, 40, "Top-up")
    clinic.clock.advance(days=1)
    add_credit(clinic.admin, account.id, 5, "Goodwill")
    start = clinic.clock() - timedelta(days=2)
    result = statement(clinic.admin, account.id, start, clinic.clock() + timedelta(seconds=1))
    assert result.opening_balance == 100
    assert [(line.amount, line.balance) for line in result.lines] == [(40, 140), (5, 145)]
    assert result.closing_balance == 145
    empty = statement(clinic.admin, account.id, datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))
    assert (empty.opening_balance, empty.closing_balance, empty.lines) == (0, 0, ())
