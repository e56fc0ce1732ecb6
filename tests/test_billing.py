"""Token packs bought by card, end to end: a workstation asks the billing function (in the Appwrite stand-in) for a
payment, the card is paid at localstripe (the fake Stripe server, on 127.0.0.1) as Stripe.js would, localstripe's
signed webhook reaches the function's domain, the credit lands in the ledger exactly once, and the workstation's
balance follows through sync. localstripe raises no refund events: the refund test has it make the refund, then
sends the ``charge.refunded`` event Stripe would (signed the way localstripe signs its own)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.tokens.balance import prescriber_balance
from core.tokens.ledger import create_account
from sync import server_config
from sync.billing import BillingError, Pack, TopUp, list_packs, payment_status, start_top_up
from tests.clinic import Clinic
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.localstripe_server import LocalStripe
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import Device, SyncWorld, world

WEBHOOK = r"/function/billing/webhook"
CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
SUCCESS, DECLINE, THREE_D_SECURE = "4242424242424242", "4000000000000341", "4000002500003155"
BILLING_MAIN = server_config.BACKEND / "functions" / "billing" / "src" / "main.py"


def derived(kind: str, source: str) -> str:
    """The function's row ids, computed here on their own: a change to the scheme must be made on purpose."""
    prefix = {"credit": "cr", "refund": "rf", "payment": "py"}[kind]
    return prefix + hashlib.sha256(f"{kind}:{source}".encode()).hexdigest()[:30]


@dataclass
class Billing:
    world: SyncWorld
    stripe: LocalStripe
    device: Device
    clinic: Clinic
    pool: str  # the clinic's token pool
    webhook_secret: str

    @property
    def server(self) -> AppwriteStandin:
        return self.world.server

    def ledger(self) -> dict[str, dict[str, Any]]:
        return {r["$id"]: r for r in self.server.rows(server_config.DATABASE_ID, "ledger_entry")}

    def payment(self, payment_id: str) -> dict[str, Any]:
        [row] = [r for r in self.server.rows(server_config.DATABASE_ID, "payment") if r["$id"] == payment_id]
        return row

    def intent_id(self, top_up: TopUp) -> str:
        return top_up.client_secret.split("_secret_")[0]

    def paid(self, top_up: TopUp, card: str = SUCCESS) -> dict[str, Any]:
        answer = self.stripe.pay(self.intent_id(top_up), card)
        self.stripe.wait_for_webhooks()
        return answer

    def balance(self) -> int:
        self.device.sync()
        balance = prescriber_balance(self.clinic.prescriber)
        assert balance is not None
        return balance.confirmed

    def webhook_answers(self) -> list[tuple[int | None, Any]]:
        return [(r.status, r.response_json) for r in self.server.requests_matching("POST", WEBHOOK)]

    def assert_no_secret_leaked(self, *also: str) -> None:
        """Neither Stripe secret (nor a client secret) in any log, error or answer of the function."""
        with self.server.state.lock:
            executions = [e for e in self.server.state.executions.values() if e.function_id == "billing"]
            texts = [t for e in executions for t in (e.logs, e.errors, e.response_body)]
            texts += [e.logs + e.errors for e in executions]
        texts += [r.response_body.decode("utf-8", "replace") for r in self.server.requests_matching(None, "/.*")]
        for secret in (self.stripe.secret_key, self.webhook_secret):
            assert not any(secret in t for t in texts)
        logs = "".join(e.logs + e.errors for e in executions)
        for secret in also:
            assert secret not in logs
        assert executions


@pytest.fixture
def billing(
    appwrite_server: Callable[..., AppwriteStandin],
    localstripe: LocalStripe,
    memory_keyring: MemoryKeyring,
    clinic: Clinic,
    tmp_path: Path,
) -> Billing:
    """A clinic's workstation synced with the server, its pool on the server, the billing function's variables
    set, and localstripe sending its webhooks to the function's domain."""
    sync_world = world(appwrite_server(), tmp_path)
    device = sync_world.device("clinic-ws", clinic.database, clinic.clock)
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    device.sync()
    webhook_secret = "whsec_" + secrets.token_hex(16)
    sync_world.server.set_function_variables(
        "billing",
        {
            "STRIPE_SECRET_KEY": localstripe.secret_key,
            "STRIPE_PUBLISHABLE_KEY": localstripe.publishable_key,
            "STRIPE_WEBHOOK_SECRET": webhook_secret,
            "STRIPE_API_BASE": localstripe.api_base,
            "STRIPE_JS_URL": localstripe.js_url,
        },
    )
    localstripe.send_webhooks_to(sync_world.server.function_url("billing", "/webhook"), webhook_secret)
    return Billing(sync_world, localstripe, device, clinic, pool, webhook_secret)


def test_a_card_payment_credits_the_pool_once_and_the_workstation_sees_it(billing: Billing) -> None:
    assert billing.balance() == 0
    top_up = start_top_up(billing.clinic.admin, billing.pool, "small")
    assert (top_up.amount_pence, top_up.currency, top_up.tokens, top_up.status) == (1000, "gbp", 100, "created")
    assert top_up.publishable_key == billing.stripe.publishable_key
    assert top_up.stripe_js_url == billing.stripe.js_url  # the function's STRIPE_JS_URL (a test key: honoured)
    assert top_up.client_secret not in repr(top_up)
    intent = billing.stripe.client().v1.payment_intents.retrieve(billing.intent_id(top_up))
    assert (intent.amount, intent.currency) == (1000, "gbp")  # (localstripe keeps no payment_method_types)
    assert intent.metadata.to_dict() == {
        "payment": top_up.payment_id,
        "team": billing.world.team,
        "account": billing.pool,
        "actor": billing.clinic.admin.actor.user_id,
        "pack": "small",
        "tokens": "100",
    }
    payment = billing.payment(top_up.payment_id)
    admin_id = billing.clinic.admin.actor.user_id
    assert (payment["status"], payment["payment_intent"], payment["actor_id"]) == ("created", intent.id, admin_id)
    assert payment["$permissions"] == [f'read("team:{billing.world.team}")']
    assert CANONICAL_TIME.match(payment["created_at"]) and CANONICAL_TIME.match(payment["updated_at"])

    assert billing.paid(top_up)["status"] == "succeeded"
    credit_id = derived("credit", intent.id)
    assert (top_up.payment_intent, top_up.credit_id) == (intent.id, credit_id)  # what the workstation waits for
    [credit] = billing.ledger().values()
    assert credit["$id"] == credit_id
    assert (credit["kind"], credit["amount"], credit["account_id"], credit["description"]) == (
        "credit", 100, billing.pool, "Card top-up (small)"
    )  # fmt: skip
    assert credit["team_id"] == billing.world.team and credit["$permissions"] == [f'read("team:{billing.world.team}")']
    assert CANONICAL_TIME.match(credit["created_at"]) and credit["corrects_id"] is None
    assert billing.payment(top_up.payment_id)["status"] == "succeeded"
    assert payment_status(billing.clinic.admin, top_up.payment_id).status == "succeeded"
    assert billing.balance() == 100
    assert billing.world.diverged() == []

    # Stripe delivers at least once: the same request, byte for byte, twice more.
    for _ in range(2):
        status, _, body = billing.server.replay_last("POST", WEBHOOK)
        assert status == 200 and json.loads(body)["outcome"] == f"already credited {credit_id}"
    assert len(billing.webhook_answers()) == 3
    assert list(billing.ledger()) == [credit_id]
    assert billing.balance() == 100
    billing.assert_no_secret_leaked(top_up.client_secret)


def test_a_declined_card_is_recorded_with_its_reason_and_credits_nothing(billing: Billing) -> None:
    top_up = start_top_up(billing.clinic.admin, billing.pool, "medium")
    assert (top_up.amount_pence, top_up.tokens) == (4500, 500)
    declined = billing.paid(top_up, DECLINE)  # the card attaches; the charge is declined
    assert declined["error"]["code"] == "card_declined"
    assert billing.webhook_answers() == [
        (200, {"received": True, "outcome": f"failure recorded on {top_up.payment_id}"})
    ]
    status = payment_status(billing.clinic.admin, top_up.payment_id)
    assert (status.status, status.failure_reason) == ("failed", "Your card was declined.")
    assert billing.ledger() == {}
    assert billing.balance() == 0
    billing.assert_no_secret_leaked(top_up.client_secret)


def test_3d_secure_credits_only_once_the_card_holder_has_authenticated(billing: Billing) -> None:
    top_up = start_top_up(billing.clinic.admin, billing.pool, "large")
    intent_id = billing.intent_id(top_up)
    assert billing.paid(top_up, THREE_D_SECURE)["status"] == "requires_action"
    assert billing.webhook_answers() == [] and billing.ledger() == {}
    assert billing.payment(top_up.payment_id)["status"] == "created"

    # What localstripe's Stripe.js does when the card holder completes the challenge: publishable key only.
    assert billing.stripe.authenticate(intent_id, top_up.client_secret)["status"] == "succeeded"
    billing.stripe.wait_for_webhooks()
    assert list(billing.ledger()) == [derived("credit", intent_id)]
    assert billing.ledger()[derived("credit", intent_id)]["amount"] == 1000
    assert billing.balance() == 1000


def test_a_webhook_without_a_good_signature_is_refused_and_writes_nothing(billing: Billing) -> None:
    top_up = start_top_up(billing.clinic.admin, billing.pool, "large")
    intent = billing.stripe.client().v1.payment_intents.retrieve(billing.intent_id(top_up)).to_dict()
    forged = {**intent, "status": "succeeded", "amount_received": intent["amount"]}  # never paid

    wrong_secret = billing.stripe.deliver("payment_intent.succeeded", forged, secret="whsec_" + "0" * 32)
    assert wrong_secret.status_code == 400
    assert wrong_secret.json() == {"message": "The Stripe signature does not match."}
    url = billing.server.function_url("billing", "/webhook")
    unsigned = httpx.post(url, json={"type": "payment_intent.succeeded", "data": {"object": forged}}, timeout=30)
    assert unsigned.status_code == 400

    # A genuine delivery with its body changed (another account) keeps Stripe's signature of the old body.
    other = billing.stripe.deliver("payment_intent.created", intent)
    assert other.status_code == 200 and other.json()["outcome"] == "ignored"
    genuine = billing.server.requests_matching("POST", WEBHOOK)[-1]
    tampered = genuine.body.replace(b'"payment_intent.created"', b'"payment_intent.succeeded"')
    assert tampered != genuine.body
    answer = httpx.post(url, content=tampered, headers={"Stripe-Signature": genuine.headers["stripe-signature"]},
                        timeout=30)  # fmt: skip
    assert answer.status_code == 400

    assert billing.ledger() == {}
    assert billing.payment(top_up.payment_id)["status"] == "created"
    assert billing.balance() == 0
    billing.assert_no_secret_leaked()


def test_a_refund_debits_what_it_gave_back(billing: Billing) -> None:
    top_up = start_top_up(billing.clinic.admin, billing.pool, "small")
    billing.paid(top_up)
    intent_id = billing.intent_id(top_up)
    credit_id = derived("credit", intent_id)
    assert billing.balance() == 100
    stripe = billing.stripe.client()

    first = stripe.v1.refunds.create({"payment_intent": intent_id, "amount": 400})  # £4 of £10 back
    charge = stripe.v1.charges.retrieve(first.charge).to_dict()
    for _ in range(2):  # delivered twice: one correction
        answer = billing.stripe.deliver("charge.refunded", charge)
        assert answer.status_code == 200, answer.text
    correction = billing.ledger()[derived("refund", first.id)]
    assert (correction["kind"], correction["amount"], correction["corrects_id"]) == ("correction", -40, credit_id)
    assert correction["account_id"] == billing.pool and CANONICAL_TIME.match(correction["created_at"])
    assert len(billing.ledger()) == 2
    payment = billing.payment(top_up.payment_id)
    assert (payment["status"], payment["refunded_pence"]) == ("partially_refunded", 400)
    assert billing.balance() == 60

    # The remaining £6 (named: localstripe refunds the whole charge again when no amount is given).
    rest = stripe.v1.refunds.create({"payment_intent": intent_id, "amount": 600})
    billing.stripe.deliver("charge.refunded", stripe.v1.charges.retrieve(rest.charge).to_dict())
    assert billing.ledger()[derived("refund", rest.id)]["amount"] == -60
    assert sum(e["amount"] for e in billing.ledger().values()) == 0
    assert billing.payment(top_up.payment_id)["status"] == "refunded"
    assert billing.balance() == 0
    assert billing.world.diverged() == []
    billing.assert_no_secret_leaked()


def test_who_may_buy_for_which_account(billing: Billing) -> None:
    clinic = billing.clinic

    def refusal(ctx: Any, account: str, pack: str = "small") -> str:
        with pytest.raises(BillingError) as caught:
            start_top_up(ctx, account, pack)
        return str(caught.value)

    assert refusal(clinic.technician, billing.pool) == "Only a clinic admin may buy tokens for the clinic's pool."
    assert refusal(clinic.prescriber, billing.pool) == "Only a clinic admin may buy tokens for the clinic's pool."
    assert refusal(clinic.admin, billing.pool, "huge") == (
        "There is no token pack 'huge'; choose one of small, medium, large."
    )

    # Another organisation's pool, on the same server.
    other_team = billing.server.create_team("Elsewhere Health")
    billing.world.tables().create_row(
        server_config.DATABASE_ID,
        "token_account",
        "0" * 32,
        {
            "team_id": other_team,
            "owner_kind": "organisation",
            "owner_id": "1" * 32,
            "name": "Elsewhere pool",
            "overdraft_limit": 0,
            "created_at": "2026-03-02T09:00:00.000000+00:00",
        },
        [f'read("team:{other_team}")'],
    )
    assert refusal(clinic.admin, "0" * 32) == "There is no such token account in this team."

    # A prescriber buys for their own account; a retried request is the same payment (localstripe ignores
    # Stripe's idempotency keys: the function's own payment row makes the retry safe).
    own = create_account(clinic.admin, "user", clinic.prescriber.actor.user_id).id
    billing.device.sync()
    assert refusal(clinic.admin, own) == "A prescriber may buy tokens for their own account only."
    first = start_top_up(clinic.prescriber, own, "small", request_id="retry-0123456789")
    again = start_top_up(clinic.prescriber, own, "small", request_id="retry-0123456789")
    assert again == first
    assert len(billing.stripe.client().v1.payment_intents.list().data) == 1
    with pytest.raises(BillingError, match="used for another payment"):
        start_top_up(clinic.prescriber, own, "large", request_id="retry-0123456789")

    # Nobody signed in: the function's domain answers, the function refuses.
    anonymous = httpx.post(
        billing.server.function_url("billing", "/payments"),
        json={
            "team": billing.world.team,
            "actor": clinic.admin.actor.user_id,
            "account": billing.pool,
            "pack": "small",
            "request_id": "anonymous-0001",
        },
        timeout=30,
    )
    assert anonymous.status_code == 401
    assert len(billing.stripe.client().v1.payment_intents.list().data) == 1
    assert [r["status"] for r in billing.server.rows(server_config.DATABASE_ID, "payment")] == ["created"]
    billing.assert_no_secret_leaked(first.client_secret)


def test_the_packs_on_sale_and_the_stripe_js_the_page_loads(billing: Billing) -> None:
    assert list_packs(billing.clinic.prescriber) == [
        Pack("small", 100, 1000, "gbp"),
        Pack("medium", 500, 4500, "gbp"),
        Pack("large", 1000, 8000, "gbp"),
    ]
    anonymous = httpx.get(billing.server.function_url("billing", "/packs"), timeout=30)
    assert anonymous.status_code == 401 and "Sign in" in anonymous.json()["message"]
    wrong = httpx.get(billing.server.function_url("billing", "/payments"), timeout=30)
    assert wrong.status_code == 405
    assert httpx.post(billing.server.function_url("billing", "/nowhere"), timeout=30).status_code == 404

    # With a live publishable key the page only ever loads Stripe's own Stripe.js, whatever the variable says.
    billing.server.set_function_variables("billing", {"STRIPE_PUBLISHABLE_KEY": "pk_live_" + "x" * 24})
    top_up = start_top_up(billing.clinic.admin, billing.pool, "small")
    assert top_up.stripe_js_url == "https://js.stripe.com/v3/"
    billing.server.set_function_variables("billing", {"STRIPE_JS_URL": ""})
    billing.server.set_function_variables("billing", {"STRIPE_PUBLISHABLE_KEY": billing.stripe.publishable_key})
    assert start_top_up(billing.clinic.admin, billing.pool, "small").stripe_js_url == "https://js.stripe.com/v3/"


def test_the_function_is_self_contained_and_names_the_apps_database() -> None:
    source = BILLING_MAIN.read_text()
    assert not re.search(r"^\s*(from|import) (core|sync|desktop|tests)\b", source, re.MULTILINE)
    spec = importlib.util.spec_from_file_location("billing_main_under_test", BILLING_MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.DB == server_config.DATABASE_ID
    assert module.derived_id("credit", "pi_123") == derived("credit", "pi_123")
    assert all(len(module.derived_id(k, "x" * 255)) == 32 for k in ("credit", "refund", "payment"))
    assert module._share(100, 333, 1000) + module._share(100, 1000, 1000) - module._share(100, 333, 1000) == 100
