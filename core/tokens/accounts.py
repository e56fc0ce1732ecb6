"""Token accounts at a glance, for the admin: balances as the ledger, the server and this workstation see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.context import ServiceContext
from core.storage.models import TokenAccount
from core.tokens.ledger import available_balance, ledger_balance, pending_total
from core.users.roles import Permission, require


@dataclass(frozen=True)
class AccountSummary:
    id: str
    name: str
    owner_kind: str  # organisation | user
    ledger_balance: int  # every entry on this workstation
    available: int  # the server's last balance and what it has not seen yet: what signing may spend
    pending: int  # entries not yet confirmed by the server
    overdraft_limit: int
    confirmed_at: datetime | None  # when the server last confirmed the balance (None: never synced)


def list_accounts(ctx: ServiceContext) -> list[AccountSummary]:
    require(ctx, Permission.VIEW_TOKENS)
    with ctx.database.reader() as session:
        accounts = session.execute(select(TokenAccount).order_by(TokenAccount.owner_kind, TokenAccount.name)).scalars()
        return [
            AccountSummary(
                account.id,
                account.name,
                account.owner_kind,
                ledger_balance(session, account.id),
                available_balance(session, account),
                pending_total(session, account.id),
                account.overdraft_limit,
                account.confirmed_at,
            )
            for account in accounts
        ]
