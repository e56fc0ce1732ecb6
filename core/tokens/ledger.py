"""Token accounts and the append-only ledger.

The balance is the sum of the ledger. Offline, what may be spent is the last balance the server confirmed plus the
entries it has not confirmed yet (pending debits), and signing is refused past the account's overdraft limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import InsufficientTokens, NotFound, ValidationError
from core.ids import new_id
from core.outbox import enqueue
from core.settings import SYNC_SERVER_SETTING, read_setting
from core.storage.models import LedgerEntry, Organisation, TokenAccount, User
from core.storage.pending_rows import queue_row
from core.storage.raw import fetch_one
from core.users.roles import Permission, require


class EntryKind:
    CREDIT = "credit"
    DEBIT = "debit"
    CORRECTION = "correction"


def create_account(ctx: ServiceContext, owner_kind: str, owner_id: str, *, overdraft_limit: int = 0) -> TokenAccount:
    require(ctx, Permission.MANAGE_TOKENS)
    if overdraft_limit < 0:
        raise ValidationError("An overdraft limit is zero or more tokens.")
    with ctx.database.transaction() as session:
        owner: Organisation | User | None
        if owner_kind == "organisation":
            owner = session.get(Organisation, owner_id)
            name = owner.name if owner else ""
        elif owner_kind == "user":
            owner = session.get(User, owner_id)
            name = owner.full_name if owner else ""
        else:
            raise ValidationError("A token account belongs to an organisation or a user.")
        if owner is None:
            raise NotFound(f"No {owner_kind} {owner_id}.")
        if session.execute(select(TokenAccount.id).where(TokenAccount.owner_id == owner_id)).first():
            raise ValidationError(f"{name} already has a token account.")
        account = TokenAccount(
            owner_kind=owner_kind,
            owner_id=owner_id,
            name=name,
            overdraft_limit=overdraft_limit,
            confirmed_balance=0,
            created_at=ctx.now(),
        )
        session.add(account)
        session.flush()
        record_event(session, ctx, "tokens.account_create", "token_account", account.id, after={"name": name})
        enqueue(session, ctx, account)
    return account


def account_for_prescriber(session: Session, user_id: str) -> TokenAccount:
    """The organisation's shared pool when it has one, else the prescriber's own account (a detached copy)."""
    row = fetch_one(
        session,
        "SELECT a.id, a.owner_kind, a.owner_id, a.name, a.overdraft_limit, a.confirmed_balance "
        "FROM user_account u JOIN token_account a ON a.owner_id IN (u.organisation_id, u.id) "
        "WHERE u.id = ? ORDER BY a.owner_kind = 'organisation' DESC LIMIT 1",
        (user_id,),
    )
    if row is None:
        raise InsufficientTokens(
            "There is no token account for you or your organisation: ask your clinic admin to set one up."
        )
    account_id, owner_kind, owner_id, name, overdraft_limit, confirmed_balance = row
    return TokenAccount(
        id=account_id,
        owner_kind=owner_kind,
        owner_id=owner_id,
        name=name,
        overdraft_limit=overdraft_limit,
        confirmed_balance=confirmed_balance,
    )


def ledger_balance(session: Session, account_id: str) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.account_id == account_id)
    ).scalar_one()
    return int(total)


def pending_total(session: Session, account_id: str) -> int:
    """Entries the server has not confirmed yet (read from the pending index)."""
    row = fetch_one(
        session,
        "SELECT coalesce(sum(amount), 0) FROM ledger_entry WHERE account_id = ? AND confirmed = 0",
        (account_id,),
    )
    return int(row[0]) if row else 0


def available_balance(session: Session, account: TokenAccount) -> int:
    """What the workstation believes can be spent: the server's last balance and what it has not seen yet."""
    return account.confirmed_balance + pending_total(session, account.id)


def _append(
    session: Session,
    ctx: ServiceContext,
    account: TokenAccount,
    kind: str,
    amount: int,
    description: str,
    *,
    prescription_id: str | None = None,
    corrects_id: str | None = None,
) -> LedgerEntry:
    entry = LedgerEntry(
        id=new_id(),
        account_id=account.id,
        kind=kind,
        amount=amount,
        description=description,
        prescription_id=prescription_id,
        corrects_id=corrects_id,
        created_by=ctx.actor.user_id,
        created_at=ctx.now(),
        confirmed=False,
    )
    # Append-only: queued as a plain row (one INSERT with the transaction's other queued rows), never an ORM
    # object that could later be changed and flushed.
    queue_row(session, LedgerEntry.__table__, {c.key: getattr(entry, c.key) for c in LedgerEntry.__table__.columns})
    record_event(
        session,
        ctx,
        f"tokens.{kind}",
        "ledger_entry",
        entry.id,
        after={"account": account.id, "amount": amount, "description": description},
    )
    enqueue(session, ctx, entry)
    return entry


def debit_for_prescription(
    session: Session, ctx: ServiceContext, account: TokenAccount, cost: int, prescription_id: str, description: str
) -> LedgerEntry:
    """The signing debit, in the signing transaction. Raises InsufficientTokens past the overdraft limit."""
    available = available_balance(session, account)
    if available - cost < -account.overdraft_limit:
        raise InsufficientTokens(
            f"Signing costs {cost} tokens but {account.name} has {available} "
            f"(overdraft limit {account.overdraft_limit}): ask your clinic admin to top up."
        )
    return _append(session, ctx, account, EntryKind.DEBIT, -cost, description, prescription_id=prescription_id)


def add_credit(ctx: ServiceContext, account_id: str, amount: int, description: str) -> LedgerEntry:
    """A manual credit by an admin (a top-up paid outside the app); card top-ups arrive from the server."""
    require(ctx, Permission.MANAGE_TOKENS)
    if amount <= 0:
        raise ValidationError("A credit is a positive number of tokens.")
    _refuse_when_synced(ctx)
    if not description.strip():
        raise ValidationError("Say what the credit is for.")
    with ctx.database.transaction() as session:
        account = _get_account(session, account_id)
        return _append(session, ctx, account, EntryKind.CREDIT, amount, description.strip())


def add_correction(ctx: ServiceContext, entry_id: str, amount: int, reason: str) -> LedgerEntry:
    """Entries are never changed: a mistake is put right by a new, signed entry that names the one it corrects."""
    require(ctx, Permission.MANAGE_TOKENS)
    if amount == 0 or len(reason.strip()) < 5:
        raise ValidationError("A correction needs a non-zero amount and a reason.")
    _refuse_when_synced(ctx)
    with ctx.database.transaction() as session:
        wrong = session.get(LedgerEntry, entry_id)
        if wrong is None:
            raise NotFound("No such ledger entry.")
        account = _get_account(session, wrong.account_id)
        return _append(session, ctx, account, EntryKind.CORRECTION, amount, reason.strip(), corrects_id=wrong.id)


def synced_installation(ctx: ServiceContext) -> bool:
    """This installation syncs with the organisation's server, whose ledger is the truth."""
    with ctx.database.reader() as session:
        return read_setting(session, SYNC_SERVER_SETTING) is not None


def _refuse_when_synced(ctx: ServiceContext) -> None:
    # The server takes only debits from workstations (docs/sync.md): a credit typed in here would never count.
    if synced_installation(ctx):
        raise ValidationError(
            "This installation syncs with your organisation's server: tokens are credited there (a card top-up, or "
            "by RxDesk support for a bank transfer), not typed in at a workstation."
        )


def set_overdraft_limit(ctx: ServiceContext, account_id: str, limit: int) -> None:
    require(ctx, Permission.MANAGE_TOKENS)
    if limit < 0:
        raise ValidationError("An overdraft limit is zero or more tokens.")
    with ctx.database.transaction() as session:
        account = _get_account(session, account_id)
        before = account.overdraft_limit
        account.overdraft_limit = limit
        record_event(
            session, ctx, "tokens.overdraft_limit", "token_account", account.id,
            before={"overdraft_limit": before}, after={"overdraft_limit": limit},
        )  # fmt: skip
        enqueue(session, ctx, account, "update")


def _get_account(session: Session, account_id: str) -> TokenAccount:
    account = session.get(TokenAccount, account_id)
    if account is None:
        raise NotFound("No such token account.")
    return account


@dataclass(frozen=True)
class StatementLine:
    at: datetime
    kind: str
    amount: int
    description: str
    balance: int
    confirmed: bool


@dataclass(frozen=True)
class Statement:
    account_name: str
    start: datetime
    end: datetime
    opening_balance: int
    lines: tuple[StatementLine, ...]

    @property
    def closing_balance(self) -> int:
        return self.lines[-1].balance if self.lines else self.opening_balance


def statement(ctx: ServiceContext, account_id: str, start: datetime, end: datetime) -> Statement:
    """All ledger entries of [start, end), with the running balance."""
    require(ctx, Permission.VIEW_TOKENS)
    with ctx.database.reader() as session:
        account = _get_account(session, account_id)
        opening = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.account_id == account_id, LedgerEntry.created_at < start
            )
        ).scalar_one()
        rows = session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.created_at >= start, LedgerEntry.created_at < end)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        ).scalars()
        balance = int(opening)
        lines = []
        for row in rows:
            balance += row.amount
            lines.append(StatementLine(row.created_at, row.kind, row.amount, row.description, balance, row.confirmed))
        return Statement(account.name, start, end, int(opening), tuple(lines))


def record_server_balance(
    session: Session, account_id: str, balance: int, confirmed_entry_ids: list[str], at: datetime
) -> None:
    """What a sync learnt: the server's balance and which local entries it includes (no longer pending)."""
    account = _get_account(session, account_id)
    account.confirmed_balance = balance
    account.confirmed_at = at
    if confirmed_entry_ids:
        for entry in session.execute(select(LedgerEntry).where(LedgerEntry.id.in_(confirmed_entry_ids))).scalars():
            entry.confirmed = True
