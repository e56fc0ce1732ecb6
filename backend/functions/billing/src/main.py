"""billing: prepaid token packs bought by card through Stripe, credited to the token ledger exactly once.

Three routes on one function (``execute: ["any"]``: Stripe calls the webhook on the function's domain, unsigned in
Appwrite's sense, so the function itself decides who may do what):

``GET /packs`` (a signed-in user)
    The packs on sale, cheapest first: ``{"currency", "packs": [{"pack", "tokens", "amount_pence", "currency"}]}``.

``POST /payments`` (a signed-in user, through ``functions.create_execution``)
    ``{"team", "actor", "account", "pack", "request_id"}``: the caller must be a member of the team, ``actor`` an
    active RxDesk user of the team (its ``user_account`` row on the server), and the actor may buy for the account:
    an admin for the pool of one of the team's organisations, a prescriber for their own account. A Stripe
    PaymentIntent is created for the pack (GBP, cards only) with an idempotency key from the request id, and a
    ``payment`` row is written (id derived from the team and the request id, so a retried request is answered with
    the same payment). Answers ``{payment_id, client_secret, publishable_key, stripe_js_url, amount_pence, currency,
    tokens, pack, status}``.

``POST /webhook`` (Stripe)
    The raw body is checked against ``Stripe-Signature`` with the endpoint's secret (400 and nothing written
    otherwise). ``payment_intent.succeeded`` creates the credit in ``ledger_entry`` under an id derived from the
    PaymentIntent, so a second delivery finds it there (409) and changes nothing; ``payment_intent.payment_failed``
    records the failure on the payment; a refund (``charge.refunded``, ``charge.refund.updated``, ``refund.*``)
    creates one correcting debit per succeeded refund, under an id derived from the refund, proportional to the
    amount refunded. Anything else is answered 200 and ignored.

Self-contained: nothing of RxDesk is imported. Secrets come from the function's variables only
(``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET``; ``STRIPE_PUBLISHABLE_KEY`` is public by design;
``STRIPE_API_BASE`` points the SDK at a fake Stripe in tests and is honoured with a test-mode key only, as is
``STRIPE_JS_URL``, the Stripe.js the workstation's payment page loads, Stripe's own by default). Logs hold
ids and outcomes, never a key, a client secret or a card detail.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import stripe
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from appwrite.services.teams import Teams

_CONFIG: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "packs.json").read_text(encoding="utf-8"))
CURRENCY: str = _CONFIG["currency"]
PACKS: dict[str, dict[str, int]] = _CONFIG["packs"]

DB = "rxdesk"  # sync/server_config.py DATABASE_ID
TEAM = "team_id"
PAYMENT = "payment"
LEDGER = "ledger_entry"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A payment's status only moves forward (a late or repeated event never takes it back).
STATUS_RANK = {"created": 0, "failed": 1, "succeeded": 2, "partially_refunded": 3, "refunded": 4}
REFUND_EVENTS = {"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated"}
STRIPE_TIMEOUT_S = 20  # the execution itself is cut at 30 s
STRIPE_JS_URL = "https://js.stripe.com/v3/"  # Stripe.js must be loaded from Stripe, never bundled or self-hosted


class Refusal(Exception):
    """The request cannot be served: answered with ``status`` and this one-sentence message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def derived_id(kind: str, source: str) -> str:
    """A row id made from a Stripe id (or a request): 2 letters of kind + 30 hex = 32 characters, as RxDesk's own
    ids, within Appwrite's 36 of ``a-z A-Z 0-9 . - _``. ``kind``: credit, refund or payment."""
    prefix = {"credit": "cr", "refund": "rf", "payment": "py"}[kind]
    return prefix + hashlib.sha256(f"{kind}:{source}".encode()).hexdigest()[:30]


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    """The app's canonical text of a time: ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_unix(seconds: Any) -> str:
    try:
        return _iso(datetime.fromtimestamp(int(seconds), UTC))
    except (TypeError, ValueError, OverflowError):
        return _now()


def main(context: Any) -> Any:
    req = context.req
    path = (req.path or "/").rstrip("/") or "/"
    if (req.method, path) not in {("GET", "/packs"), ("POST", "/payments"), ("POST", "/webhook")}:
        if path in {"/packs", "/payments", "/webhook"}:
            return context.res.json({"message": "Send a GET to /packs, a POST to /payments or /webhook."}, 405)
        return context.res.json({"message": f"There is no route {path}: use /packs, /payments or /webhook."}, 404)
    try:
        if path == "/packs":
            return _packs(context)
        if path == "/webhook":
            return _webhook(context)
        return _create_payment(context)
    except Refusal as refusal:
        return context.res.json({"message": str(refusal)}, refusal.status)
    except AppwriteException as exc:
        context.error(f"billing: database error {exc.code} {exc.type}")
        return context.res.json({"message": "The server could not store the payment now; try again."}, 503)


def _tables_and_teams(context: Any) -> tuple[TablesDB, Teams]:
    key = context.req.headers.get("x-appwrite-key")
    if not key:
        context.error("billing: no x-appwrite-key header (the function needs its dynamic API key)")
        raise Refusal(500, "The billing function is not set up on this server.")
    client = (
        Client()
        .set_endpoint(os.environ["APPWRITE_FUNCTION_API_ENDPOINT"])
        .set_project(os.environ["APPWRITE_FUNCTION_PROJECT_ID"])
        .set_key(key)
    )
    return TablesDB(client), Teams(client)


def _stripe(context: Any) -> stripe.StripeClient:
    secret = os.environ.get("STRIPE_SECRET_KEY", "")
    if not secret:
        context.error("billing: STRIPE_SECRET_KEY is not set")
        raise Refusal(503, "Card payments are not set up on this server.")
    base = os.environ.get("STRIPE_API_BASE", "")
    addresses: Any = None
    if base:
        if not secret.startswith("sk_test_"):
            # A live key only ever goes to Stripe itself.
            context.error("billing: STRIPE_API_BASE is set with a live key; ignored")
        else:
            addresses = {"api": base.rstrip("/")}
    return stripe.StripeClient(
        secret,
        base_addresses=addresses,
        http_client=stripe.RequestsClient(timeout=STRIPE_TIMEOUT_S),
        max_network_retries=2,
    )


def _stripe_js_url(context: Any, publishable: str) -> str:
    """The Stripe.js the payment page loads: Stripe's own, unless a test-mode server points its pages elsewhere (a
    page that takes card numbers never loads another script with a live key)."""
    url = os.environ.get("STRIPE_JS_URL", "") or STRIPE_JS_URL
    if url != STRIPE_JS_URL and not publishable.startswith("pk_test_"):
        context.error("billing: STRIPE_JS_URL is set with a live key; ignored")
        return STRIPE_JS_URL
    return url


# ---- GET /packs ---------------------------------------------------------------------------------------------------


def _packs(context: Any) -> Any:
    """The packs on sale, for the workstation's choice: signed-in users only (what they may buy for is checked when
    they buy)."""
    if not context.req.headers.get("x-appwrite-user-id"):
        raise Refusal(401, "Sign in first: token packs are shown to signed-in users only.")
    packs = [
        {"pack": name, "tokens": int(pack["tokens"]), "amount_pence": int(pack["amount_pence"]), "currency": CURRENCY}
        for name, pack in sorted(PACKS.items(), key=lambda item: (item[1]["amount_pence"], item[0]))
    ]
    return context.res.json({"currency": CURRENCY, "packs": packs})


# ---- POST /payments -----------------------------------------------------------------------------------------------


def _create_payment(context: Any) -> Any:
    req = context.req
    caller = req.headers.get("x-appwrite-user-id")
    if not caller:
        raise Refusal(401, "Sign in first: payments are started by signed-in users only.")
    try:
        body = json.loads(req.body_text or "{}")
    except ValueError:
        raise Refusal(400, "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise Refusal(400, "The body is not a JSON object.")
    for field in ("team", "actor", "account"):
        if not isinstance(body.get(field), str) or not _ID.match(body[field]):
            raise Refusal(400, f"Say which {field} the payment is for.")
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not _REQUEST_ID.match(request_id):
        raise Refusal(400, "Send a request_id (8 to 64 letters, digits, - or _) to make retries safe.")
    pack_name = body.get("pack")
    if not isinstance(pack_name, str) or pack_name not in PACKS:
        raise Refusal(400, f"There is no token pack {pack_name!r}; choose one of {', '.join(PACKS)}.")
    publishable = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
    client = _stripe(context)
    if not publishable:
        context.error("billing: STRIPE_PUBLISHABLE_KEY is not set")
        raise Refusal(503, "Card payments are not set up on this server.")
    stripe_js = _stripe_js_url(context, publishable)
    team, actor_id, account_id = body["team"], body["actor"], body["account"]
    tables, teams = _tables_and_teams(context)
    ledger = Ledger(tables)
    _check_member(teams, team, caller)
    actor = ledger.get("user_account", actor_id)
    if actor is None or actor.get(TEAM) != team or not actor.get("active", True):
        raise Refusal(403, "That user is not an active user of this team.")
    account = ledger.get("token_account", account_id)
    if account is None or account.get(TEAM) != team:
        raise Refusal(404, "There is no such token account in this team.")
    _check_buyer(ledger, team, actor, account)

    pack = PACKS[pack_name]
    payment_id = derived_id("payment", f"{team}:{request_id}")
    existing = ledger.get(PAYMENT, payment_id)
    if existing is None:
        metadata = {
            "payment": payment_id,
            "team": team,
            "account": account_id,
            "actor": actor_id,
            "pack": pack_name,
            "tokens": str(pack["tokens"]),
        }
        try:
            intent = client.v1.payment_intents.create(
                {
                    "amount": pack["amount_pence"],
                    "currency": CURRENCY,
                    "payment_method_types": ["card"],
                    "metadata": metadata,
                },
                {"idempotency_key": f"rxdesk-{payment_id}"},
            )
        except stripe.StripeError as exc:
            context.error(f"billing: Stripe refused the payment {payment_id}: {type(exc).__name__} {exc.code}")
            raise Refusal(502, "The card processor could not start the payment; try again.") from None
        row = {
            TEAM: team,
            "account_id": account_id,
            "actor_id": actor_id,
            "pack": pack_name,
            "tokens": pack["tokens"],
            "amount_pence": pack["amount_pence"],
            "currency": CURRENCY,
            "status": "created",
            "failure_reason": None,
            "refunded_pence": 0,
            "payment_intent": intent.id,
            "created_at": _now(),
            "updated_at": _now(),
        }
        if not ledger.create(PAYMENT, payment_id, row, team):
            existing = ledger.get(PAYMENT, payment_id)  # the same request, recorded first by a retry
        else:
            context.log(f"billing: payment {payment_id} created ({pack_name}, account {account_id}, {intent.id})")
            return context.res.json(_answer(payment_id, row, intent.client_secret, publishable, stripe_js))
    if existing is None:
        raise Refusal(503, "The payment could not be recorded; try again.")
    if (existing.get("account_id"), existing.get("actor_id"), existing.get("pack")) != (
        account_id,
        actor_id,
        pack_name,
    ):
        raise Refusal(409, "That request_id was used for another payment; send a new one.")
    try:
        intent = client.v1.payment_intents.retrieve(str(existing["payment_intent"]))
    except stripe.StripeError as exc:
        context.error(f"billing: Stripe could not find the payment {payment_id}: {type(exc).__name__} {exc.code}")
        raise Refusal(502, "The card processor could not find the payment; try again.") from None
    context.log(f"billing: payment {payment_id} asked again ({existing.get('status')})")
    return context.res.json(_answer(payment_id, existing, intent.client_secret, publishable, stripe_js))


def _answer(
    payment_id: str, row: dict[str, Any], client_secret: Any, publishable: str, stripe_js: str
) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "client_secret": client_secret,
        "publishable_key": publishable,
        "stripe_js_url": stripe_js,
        "amount_pence": row["amount_pence"],
        "currency": row["currency"],
        "tokens": row["tokens"],
        "pack": row["pack"],
        "status": row["status"],
    }


def _check_member(teams: Teams, team: str, caller: str) -> None:
    try:
        found = teams.list_memberships(team, queries=[Query.equal("userId", [caller])])
    except AppwriteException as exc:
        if exc.code == 404:
            raise Refusal(403, "You are not a member of this team.") from None
        raise
    if not any(m.userid == caller and m.confirm for m in found.memberships):
        raise Refusal(403, "You are not a member of this team.")


def _check_buyer(ledger: Ledger, team: str, actor: dict[str, Any], account: dict[str, Any]) -> None:
    """An admin buys for the pool of one of the team's organisations; a prescriber for their own account."""
    role = str(actor.get("role"))
    if account.get("owner_kind") == "organisation":
        organisation = ledger.get("organisation", str(account.get("owner_id")))
        if organisation is None or organisation.get(TEAM) != team:
            raise Refusal(404, "There is no such token account in this team.")
        if role != "admin":
            raise Refusal(403, "Only a clinic admin may buy tokens for the clinic's pool.")
        return
    if account.get("owner_kind") == "user":
        if account.get("owner_id") != actor["$id"] or role != "prescriber":
            raise Refusal(403, "A prescriber may buy tokens for their own account only.")
        return
    raise Refusal(403, "Tokens cannot be bought for that account.")


# ---- POST /webhook ------------------------------------------------------------------------------------------------


def _raw_body(req: Any) -> bytes:
    raw = getattr(req, "body_binary", None)
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    return str(req.body_text or "").encode("utf-8")


def _webhook(context: Any) -> Any:
    req = context.req
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    if not secret:
        context.error("billing: STRIPE_WEBHOOK_SECRET is not set")
        raise Refusal(503, "Webhooks are not set up on this server.")
    payload = _raw_body(req)
    try:
        stripe.Webhook.construct_event(payload, req.headers.get("stripe-signature"), secret)
        event = json.loads(payload)
        kind, obj = str(event["type"]), event["data"]["object"]
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError):
        context.log("billing: webhook refused: no valid Stripe signature")
        return context.res.json({"message": "The Stripe signature does not match."}, 400)
    event_id = str(event.get("id", ""))[:64]
    if kind not in {"payment_intent.succeeded", "payment_intent.payment_failed", *REFUND_EVENTS}:
        return context.res.json({"received": True, "outcome": "ignored"})
    tables, _ = _tables_and_teams(context)
    ledger = Ledger(tables)
    if kind == "payment_intent.succeeded":
        outcome = ledger.credit(obj, event.get("created"))
    elif kind == "payment_intent.payment_failed":
        outcome = ledger.failed(obj)
    else:
        outcome = _refunds(context, ledger, obj)
    context.log(f"billing: {kind} {event_id}: {outcome}")
    return context.res.json({"received": True, "outcome": outcome})


def _refunds(context: Any, ledger: Ledger, obj: dict[str, Any]) -> str:
    """Whatever the refund event, the PaymentIntent's refunds as Stripe has them now: one correction each."""
    client = _stripe(context)
    try:
        intent_id = obj.get("payment_intent")
        if not intent_id and obj.get("object") == "refund" and obj.get("charge"):
            intent_id = client.v1.charges.retrieve(str(obj["charge"])).payment_intent
        if not intent_id:
            return "ignored (no payment intent)"
        intent = client.v1.payment_intents.retrieve(str(intent_id)).to_dict()
        refunds = [
            r.to_dict()
            for r in client.v1.refunds.list({"payment_intent": str(intent_id), "limit": 100}).auto_paging_iter()
        ]
    except stripe.StripeError as exc:
        context.error(f"billing: Stripe could not list the refunds: {type(exc).__name__} {exc.code}")
        raise Refusal(502, "Stripe could not be asked about the refund; send it again later.") from None
    return ledger.refunds(intent, refunds)


@dataclass(frozen=True)
class Purchase:
    """What the PaymentIntent's metadata says was bought (set by POST /payments)."""

    payment: str
    team: str
    account: str
    actor: str
    pack: str
    tokens: int

    @classmethod
    def of(cls, intent: dict[str, Any]) -> Purchase | None:
        meta = intent.get("metadata") or {}
        fields = [meta.get(k) for k in ("payment", "team", "account", "actor")]
        if not all(isinstance(f, str) and _ID.match(f) for f in fields):
            return None
        tokens = str(meta.get("tokens", ""))
        if not tokens.isdigit() or int(tokens) <= 0 or not isinstance(meta.get("pack"), str):
            return None
        return cls(*fields, pack=str(meta["pack"])[:32], tokens=int(tokens))


class Ledger:
    def __init__(self, tables: TablesDB) -> None:
        self.tables = tables

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        try:
            row = self.tables.get_row(DB, table, row_id)
        except AppwriteException as exc:
            if exc.code == 404:
                return None
            raise
        return {**row.data, "$id": row.id}

    def create(self, table: str, row_id: str, data: dict[str, Any], team: str) -> bool:
        """True if created; False if a row of that id exists already (an earlier delivery made it)."""
        try:
            self.tables.create_row(DB, table, row_id, data, [f'read("team:{team}")'])
        except AppwriteException as exc:
            if exc.code == 409:
                return False
            raise
        return True

    # -- events --------------------------------------------------------------------------------------------------
    def credit(self, intent: dict[str, Any], created: Any) -> str:
        purchase = Purchase.of(intent)
        if purchase is None:
            return "ignored (not an RxDesk payment)"
        credit_id = derived_id("credit", str(intent["id"]))
        made = self._credit(purchase, credit_id, created)
        self._advance(purchase, intent, "succeeded", failure_reason=None)
        return f"credited {credit_id}" if made else f"already credited {credit_id}"

    def _credit(self, purchase: Purchase, credit_id: str, created: Any) -> bool:
        return self.create(
            LEDGER,
            credit_id,
            {
                TEAM: purchase.team,
                "account_id": purchase.account,
                "kind": "credit",
                "amount": purchase.tokens,
                "description": f"Card top-up ({purchase.pack})",
                "prescription_id": None,
                "corrects_id": None,
                "created_by": purchase.actor,
                "created_at": _from_unix(created),
            },
            purchase.team,
        )

    def failed(self, intent: dict[str, Any]) -> str:
        purchase = Purchase.of(intent)
        if purchase is None:
            return "ignored (not an RxDesk payment)"
        error = intent.get("last_payment_error") or {}
        reason = str(error.get("message") or error.get("code") or "The payment failed.")[:500]
        self._advance(purchase, intent, "failed", failure_reason=reason)
        return f"failure recorded on {purchase.payment}"

    def refunds(self, intent: dict[str, Any], refunds: list[dict[str, Any]]) -> str:
        purchase = Purchase.of(intent)
        if purchase is None:
            return "ignored (not an RxDesk payment)"
        if intent.get("status") != "succeeded":
            return "ignored (the payment did not succeed)"
        credit_id = derived_id("credit", str(intent["id"]))
        self._credit(purchase, credit_id, intent.get("created"))  # a refund that overtook the success event
        amount = int(intent["amount"])
        done = sorted((r for r in refunds if r.get("status") == "succeeded"), key=lambda r: (r["created"], r["id"]))
        refunded, made = 0, []
        for refund in done:
            before = _share(purchase.tokens, refunded, amount)
            refunded = min(amount, refunded + int(refund["amount"]))
            tokens = _share(purchase.tokens, refunded, amount) - before
            if tokens == 0:
                continue
            entry_id = derived_id("refund", str(refund["id"]))
            data = {
                TEAM: purchase.team,
                "account_id": purchase.account,
                "kind": "correction",
                "amount": -tokens,
                "description": f"Card refund ({purchase.pack})",
                "prescription_id": None,
                "corrects_id": credit_id,
                "created_by": None,
                "created_at": _from_unix(refund.get("created")),
            }
            if self.create(LEDGER, entry_id, data, purchase.team):
                made.append(entry_id)
        if refunded:
            status = "refunded" if refunded >= amount else "partially_refunded"
            self._advance(purchase, intent, status, refunded_pence=refunded)
        return f"corrected {', '.join(made)}" if made else "refunds already corrected"

    # -- the payment row -----------------------------------------------------------------------------------------
    def _advance(self, purchase: Purchase, intent: dict[str, Any], status: str, **changes: Any) -> None:
        """The payment's status moves forward (never back: events arrive late and more than once)."""
        row = self.get(PAYMENT, purchase.payment)
        now = _now()
        if row is None:  # POST /payments created the PaymentIntent but could not record it
            data = {
                TEAM: purchase.team,
                "account_id": purchase.account,
                "actor_id": purchase.actor,
                "pack": purchase.pack,
                "tokens": purchase.tokens,
                "amount_pence": int(intent.get("amount") or 0),
                "currency": str(intent.get("currency") or CURRENCY)[:3],
                "status": status,
                "failure_reason": None,
                "refunded_pence": 0,
                "payment_intent": str(intent["id"]),
                "created_at": now,
                "updated_at": now,
                **changes,
            }
            if self.create(PAYMENT, purchase.payment, data, purchase.team):
                return
            row = self.get(PAYMENT, purchase.payment) or {}
        if STATUS_RANK[status] < STATUS_RANK.get(str(row.get("status")), 0):
            return
        update = {"status": status, **changes}
        if all(row.get(k) == v for k, v in update.items()):
            return  # the same event again
        update["updated_at"] = now
        self.tables.update_row(DB, PAYMENT, purchase.payment, update)


def _share(tokens: int, pence: int, amount: int) -> int:
    """The tokens that ``pence`` of a payment of ``amount`` bought, to the nearest token (half up)."""
    if amount <= 0:
        return 0
    return int((Decimal(tokens) * pence / amount).quantize(Decimal(1), rounding=ROUND_HALF_UP))
