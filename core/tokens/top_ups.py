"""Card top-ups paid at this workstation whose credit has not arrived yet.

A card payment is fulfilled by the server (the billing function's webhook writes the credit to the ledger); the
workstation only sees the tokens once sync has pulled that credit. Between the two, the balance shows the top-up as
pending ("Tokens: 120 (+100 pending)"). Each pending top-up is kept in this installation's settings (so it survives
a restart) under the id of the credit it waits for, which the server derives from the PaymentIntent. Nothing of the
card, and never the client secret, is kept: only the payment's and the credit's ids, the account, the pack and its
tokens. A top-up leaves the list as soon as its credit is in the local ledger, or after ``FORGET_AFTER`` (the
server's payment row stays the record of what happened).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.log import record_event
from core.context import ServiceContext
from core.errors import ValidationError
from core.settings import read_setting, write_setting
from core.storage.models import LedgerEntry
from core.users.roles import Permission, require

PENDING_TOP_UPS_SETTING = "pending_top_ups"
FORGET_AFTER = timedelta(days=7)  # a credit not pulled in a week: something went wrong on the server's side
_SERVER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")


@dataclass(frozen=True)
class PendingTopUp:
    credit_id: str  # the ledger entry the billing function's webhook creates
    payment_id: str  # the server's payment row
    account_id: str
    pack: str
    tokens: int
    paid_at: datetime


def record_top_up(
    ctx: ServiceContext, *, account_id: str, payment_id: str, credit_id: str, pack: str, tokens: int
) -> PendingTopUp:
    """A card payment succeeded here: remember that its credit is on its way (audited; idempotent per credit)."""
    require(ctx, Permission.VIEW_TOKENS)
    if tokens <= 0:
        raise ValidationError("A top-up is a positive number of tokens.")
    ids = (credit_id, payment_id, account_id)
    if not all(_SERVER_ID.match(value) and "_secret_" not in value for value in ids):
        raise ValidationError("A top-up is recorded with the server's ids of the payment and its credit.")
    top_up = PendingTopUp(credit_id, payment_id, account_id, pack[:32], tokens, ctx.now())
    with ctx.database.transaction() as session:
        kept = _read(session)
        if any(p.credit_id == credit_id for p in kept):
            return next(p for p in kept if p.credit_id == credit_id)
        _write(session, [*kept, top_up])
        record_event(
            session, ctx, "tokens.top_up_paid", "token_account", account_id,
            after={"payment": payment_id, "credit": credit_id, "pack": top_up.pack, "tokens": tokens},
        )  # fmt: skip
    return top_up


def pending_top_ups(ctx: ServiceContext, account_id: str | None = None) -> list[PendingTopUp]:
    """The top-ups still waiting for their credit (of one account, or all), oldest first. Those whose credit has
    arrived, or that are older than ``FORGET_AFTER``, are cleared on the way."""
    require(ctx, Permission.VIEW_TOKENS)
    with ctx.database.reader() as session:
        kept = _read(session)
        if not kept:
            return []
        arrived = _arrived(session, kept)
    now = ctx.now()
    waiting = [p for p in kept if p.credit_id not in arrived and now - p.paid_at < FORGET_AFTER]
    if len(waiting) != len(kept):
        clear_arrived_top_ups(ctx)
    return [p for p in waiting if account_id is None or p.account_id == account_id]


def pending_top_up_tokens(ctx: ServiceContext, account_id: str) -> int:
    """The tokens paid for at this workstation that the account's ledger does not have yet."""
    return sum(p.tokens for p in pending_top_ups(ctx, account_id))


def clear_arrived_top_ups(ctx: ServiceContext) -> int:
    """Forget the top-ups whose credit is in the ledger (or that are too old to wait for). Returns how many."""
    with ctx.database.transaction() as session:
        kept = _read(session)
        arrived = _arrived(session, kept)
        now = ctx.now()
        waiting = [p for p in kept if p.credit_id not in arrived and now - p.paid_at < FORGET_AFTER]
        if len(waiting) != len(kept):
            _write(session, waiting)
    return len(kept) - len(waiting)


def _arrived(session: Session, top_ups: list[PendingTopUp]) -> set[str]:
    ids = [p.credit_id for p in top_ups]
    if not ids:
        return set()
    return set(session.execute(select(LedgerEntry.id).where(LedgerEntry.id.in_(ids))).scalars())


def _read(session: Session) -> list[PendingTopUp]:
    stored = read_setting(session, PENDING_TOP_UPS_SETTING, [])
    top_ups = []
    for item in stored if isinstance(stored, list) else []:
        try:
            top_ups.append(
                PendingTopUp(
                    str(item["credit_id"]),
                    str(item["payment_id"]),
                    str(item["account_id"]),
                    str(item["pack"]),
                    int(item["tokens"]),
                    datetime.fromisoformat(str(item["paid_at"])),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # a damaged entry is dropped, never fatal: the ledger is the truth
    return top_ups


def _write(session: Session, top_ups: list[PendingTopUp]) -> None:
    rows: list[dict[str, Any]] = [{**asdict(p), "paid_at": p.paid_at.isoformat()} for p in top_ups]
    write_setting(session, PENDING_TOP_UPS_SETTING, rows)
