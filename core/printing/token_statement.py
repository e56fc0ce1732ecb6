"""Print a token account's statement for a period of whole UK days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from core.context import UK, ServiceContext
from core.documents.model import TokenEntryKind, TokenStatement, TokenStatementEntry
from core.documents.token_statement import render_token_statement
from core.errors import ValidationError
from core.tokens.ledger import statement


def print_token_statement(ctx: ServiceContext, account_id: str, first_day: date, last_day: date) -> bytes:
    if last_day < first_day:
        raise ValidationError("The statement period ends before it starts.")
    start = datetime.combine(first_day, time(), UK)
    end = datetime.combine(last_day + timedelta(days=1), time(), UK)
    result = statement(ctx, account_id, start, end)
    document = TokenStatement(
        account_name=result.account_name,
        period_start=first_day,
        period_end=last_day,
        opening_balance=result.opening_balance,
        entries=tuple(
            TokenStatementEntry(
                line.at,
                TokenEntryKind(line.kind),
                line.amount,
                line.description + ("" if line.confirmed else " (not yet confirmed by the server)"),
                line.balance,
            )
            for line in result.lines
        ),
        closing_balance=result.closing_balance,
    )
    return render_token_statement(document)
