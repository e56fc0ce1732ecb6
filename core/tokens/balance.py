"""What the signed-in prescriber can spend, and what signing a draft would cost: shown before signing, so a refusal
is never a surprise."""

from __future__ import annotations

from dataclasses import dataclass

from core.context import ServiceContext
from core.errors import InsufficientTokens
from core.prescriptions.queries import get_prescription
from core.tokens.costs import issue_costs, read_cost_table
from core.tokens.ledger import account_for_prescriber, pending_total
from core.users.roles import Permission, require


@dataclass(frozen=True)
class TokenBalance:
    account_name: str
    confirmed: int  # the server's balance when last synced
    pending: int  # entries the server has not seen yet (negative for debits)
    overdraft_limit: int
    account_id: str = ""
    owner_kind: str = ""  # organisation (the clinic's pool) | user (the prescriber's own)

    @property
    def available(self) -> int:
        return self.confirmed + self.pending

    @property
    def spendable(self) -> int:
        """Tokens signing may still use, the overdraft included."""
        return self.available + self.overdraft_limit


@dataclass(frozen=True)
class SigningQuote:
    cost: int
    balance: TokenBalance | None  # None: no account for the prescriber or their organisation

    @property
    def refusal(self) -> str | None:
        """Why signing would be refused for tokens, in words for the prescriber; None when it would not."""
        if self.balance is None:
            return "There is no token account for you or your clinic: ask your clinic admin to set one up."
        if self.cost > self.balance.spendable:
            b = self.balance
            return (
                f"Signing costs {self.cost} tokens but {b.account_name} has {b.available} "
                f"(overdraft limit {b.overdraft_limit}): ask your clinic admin to top up."
            )
        return None


def prescriber_balance(ctx: ServiceContext) -> TokenBalance | None:
    """The balance signing would debit: the organisation's pool, else the prescriber's own account."""
    require(ctx, Permission.VIEW_TOKENS)
    with ctx.database.reader() as session:
        try:
            account = account_for_prescriber(session, ctx.actor.user_id)
        except InsufficientTokens:
            return None
        return TokenBalance(
            account.name,
            account.confirmed_balance,
            pending_total(session, account.id),
            account.overdraft_limit,
            account.id,
            account.owner_kind,
        )


def signing_quote(ctx: ServiceContext, prescription_id: str) -> SigningQuote:
    """What signing this draft would cost (every issue of a repeat) against what can be spent now."""
    require(ctx, Permission.PRESCRIBE)
    with ctx.database.reader() as session:
        rx = get_prescription(session, prescription_id)
        cost = sum(issue_costs(read_cost_table(session), [i.cd_schedule for i in rx.items], rx.repeat_total))
    return SigningQuote(cost, prescriber_balance(ctx))
