"""Buying a token pack from a workstation: the server's ``billing`` function starts the payment, Stripe takes the
card, Stripe's webhook credits the ledger, and sync brings the credit here (docs/sync.md, "Payments").

The workstation asks ``POST /payments`` as its signed-in user (``functions.create_execution``) and gets the
PaymentIntent's client secret and Stripe's publishable key for the embedded payment page (Stripe.js): it never holds
a Stripe secret and never sees card data. While the page is open it can read the payment's status (the team's
``payment`` row, with the session) to say "waiting", "declined: <reason>" or "paid"; the tokens themselves count
only once the credit has been pulled like any other ledger entry (fulfilment is the webhook's, never the page's).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from appwrite.client import Client
from appwrite.enums.execution_method import ExecutionMethod
from appwrite.exception import AppwriteException
from appwrite.services.functions import Functions
from appwrite.services.tables_db import TablesDB

from core.context import ServiceContext
from core.errors import RxDeskError
from core.ids import new_id
from sync.appwrite_api import describe, session_client
from sync.connection import ServerSettings, read_server_settings, session_secret

BILLING = "billing"
PAYMENT_TABLE = "payment"
SIGNED_OUT = "The server has signed this workstation out: sign it in again (Admin → Sync)."


class BillingError(RxDeskError):
    """A payment could not be started or looked up; ``str()`` says why in one sentence."""


@dataclass(frozen=True)
class Pack:
    """A token pack on sale (the billing function's ``packs.json``)."""

    name: str
    tokens: int
    amount_pence: int
    currency: str


@dataclass(frozen=True)
class TopUp:
    """A payment the server has started: what the embedded payment page needs."""

    payment_id: str
    client_secret: str = field(repr=False)  # for Stripe.js only: never logged, never stored
    publishable_key: str
    amount_pence: int
    currency: str
    tokens: int
    pack: str
    status: str
    stripe_js_url: str  # the server's choice: Stripe's own, or a fake Stripe in tests

    @property
    def payment_intent(self) -> str:
        """The PaymentIntent's id: the client secret's part before ``_secret_`` (Stripe's format)."""
        return payment_intent_of(self.client_secret)

    @property
    def credit_id(self) -> str:
        """The ledger entry the webhook creates for this payment (docs/sync.md, "Payments")."""
        return credit_entry_id(self.payment_intent)


def payment_intent_of(client_secret: str) -> str:
    intent, found, _ = client_secret.partition("_secret_")
    if not found or not intent.startswith("pi_"):
        raise BillingError("The server's answer to the payment was not understood.")
    return intent


def credit_entry_id(payment_intent: str) -> str:
    """The credit's row id, as the billing function derives it: ``cr`` + 30 hex of sha256("credit:<pi id>")."""
    return "cr" + hashlib.sha256(f"credit:{payment_intent}".encode()).hexdigest()[:30]


@dataclass(frozen=True)
class PaymentStatus:
    payment_id: str
    status: str  # created | succeeded | failed | refunded | partially_refunded
    failure_reason: str | None
    tokens: int
    amount_pence: int
    refunded_pence: int


def _client(ctx: ServiceContext) -> tuple[ServerSettings, Client]:
    settings = read_server_settings(ctx.database)
    if settings is None:
        raise BillingError("This workstation is not connected to a server: tokens are bought through the server.")
    secret = session_secret(settings)
    if secret is None:
        raise BillingError("Sign this workstation in to the server first.")
    return settings, session_client(settings.endpoint, settings.project, secret)


def list_packs(ctx: ServiceContext) -> list[Pack]:
    """The token packs the server sells, cheapest first (``GET /packs``, as the signed-in user)."""
    _, client = _client(ctx)
    answer = _execute(client, None, path="/packs", method=ExecutionMethod.GET, doing="The packs could not be listed")
    try:
        packs = [
            Pack(str(p["pack"]), int(p["tokens"]), int(p["amount_pence"]), str(p["currency"])) for p in answer["packs"]
        ]
    except (KeyError, TypeError, ValueError):
        raise BillingError("The server's list of token packs was not understood.") from None
    return packs


def start_top_up(ctx: ServiceContext, account_id: str, pack: str, *, request_id: str | None = None) -> TopUp:
    """Ask the server for a payment of ``pack`` for the token account, bought by the signed-in user (the server
    checks that they may: an admin for a clinic's pool, a prescriber for their own account). Send the same
    ``request_id`` again to retry safely: the server answers with the same payment."""
    settings, client = _client(ctx)
    body = {
        "team": settings.team,
        "actor": ctx.actor.user_id,
        "account": account_id,
        "pack": pack,
        "request_id": request_id or new_id(),
    }
    answer = _execute(client, body)
    try:
        top_up = TopUp(
            str(answer["payment_id"]),
            str(answer["client_secret"]),
            str(answer["publishable_key"]),
            int(answer["amount_pence"]),
            str(answer["currency"]),
            int(answer["tokens"]),
            str(answer["pack"]),
            str(answer["status"]),
            str(answer["stripe_js_url"]),
        )
    except (KeyError, TypeError, ValueError):
        raise BillingError("The server's answer to the payment was not understood.") from None
    payment_intent_of(top_up.client_secret)  # a secret of Stripe's shape, or the answer is refused here
    if not top_up.stripe_js_url.startswith(("https://", "http://127.0.0.1:", "http://localhost:")):
        raise BillingError("The server named a payment page script that is not served securely.")
    return top_up


def payment_status(ctx: ServiceContext, payment_id: str) -> PaymentStatus:
    """The payment as the server has it now (Stripe's webhook moves it on)."""
    settings, client = _client(ctx)
    try:
        row = TablesDB(client).get_row(settings.database, PAYMENT_TABLE, payment_id)
    except AppwriteException as exc:
        if exc.code == 404:
            raise BillingError("There is no such payment for this organisation.") from None
        raise BillingError(f"The payment could not be looked up: {describe(exc)}") from None
    data: dict[str, Any] = row.data
    return PaymentStatus(
        payment_id,
        str(data.get("status")),
        data.get("failure_reason"),
        int(data.get("tokens") or 0),
        int(data.get("amount_pence") or 0),
        int(data.get("refunded_pence") or 0),
    )


def _execute(
    client: Client,
    body: dict[str, Any] | None,
    *,
    path: str = "/payments",
    method: ExecutionMethod = ExecutionMethod.POST,
    doing: str = "The payment could not be started",
) -> dict[str, Any]:
    try:
        execution = Functions(client).create_execution(
            BILLING, body=json.dumps(body) if body is not None else "", xasync=False, path=path, method=method
        )
    except AppwriteException as exc:
        code = exc.code if isinstance(exc.code, int) else 0
        if code == 401:
            raise BillingError(SIGNED_OUT) from None
        if code == 0:
            raise BillingError(f"{doing}: the server could not be reached, so check the network.") from None
        raise BillingError(f"{doing}: {describe(exc)}") from None
    status = int(execution.responsestatuscode or 0)
    try:
        answer = json.loads(execution.responsebody or "{}")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise BillingError("The server's answer to the payment was not understood.")
    if status == 401:  # the session is gone: the function ran for nobody
        raise BillingError(SIGNED_OUT)
    if status >= 400 or status == 0:
        message = answer.get("message")
        raise BillingError(str(message) if message else f"The server refused the payment ({status}).")
    return answer
