"""localstripe (PyPI: a third-party stateful fake Stripe server) run by the tests on 127.0.0.1.

    server = LocalStripe(tmp_path / "localstripe.pickle").start()   # or the ``localstripe`` fixture
    server.api_base                      # what the Stripe SDK's "api" base address takes
    server.send_webhooks_to(url, secret) # signed webhooks (Stripe-Signature: t=…,v1=…) POSTed to url
    server.pay(pi_id, "4242424242424242"); server.authenticate(pi_id, client_secret)
    server.wait_for_webhooks()           # every event raised so far has been delivered (and answered)
    server.deliver("charge.refunded", charge)  # an event localstripe never sends, signed as it signs its own
    server.stop()

What localstripe does by itself, and what this harness changes:

* It listens on every interface (``::``) when started as ``python -m localstripe``: here its aiohttp ``app`` is
  served on a socket bound to 127.0.0.1 on a free port, by an event loop in a background thread.
* It keeps its whole state in one module-level ``store`` and pickles it to the fixed file /tmp/localstripe.pickle on
  every change (so two processes would share, and overwrite, each other's state): here the store writes to a path
  of the test's own, and is emptied when a server starts and when it stops. Its webhook endpoints are module-level
  too, and are cleared likewise.
* It sends each event's webhook from a task that first sleeps a second: the harness keeps those tasks, so a test
  can wait for every delivery to be answered (``wait_for_webhooks``), and a stopped server cancels the ones not
  sent yet, so no event of one test ever reaches the next.
* It has PaymentIntents, PaymentMethods, declines, 3-D Secure, refunds and signed webhooks, but no Checkout Sessions
  and no Prices; a PaymentIntent is confirmed with the secret key only (its confirm endpoint takes no
  ``payment_method``, and no publishable key), and it raises no refund events (``charge.refunded``,
  ``refund.created``). ``pay`` therefore does with the secret key what Stripe.js does in the browser with the
  publishable key and the client secret, and ``deliver`` signs and sends an event Stripe would send.
* Its fake Stripe.js (served at ``/js.stripe.com/v3/``: ``js_url``) mounts a card element of plain ``<input>``s in
  the page (number, exp_month, exp_year, cvc, postal_code; each moves the focus on once full), but its
  ``confirmCardPayment(client_secret, data)`` ignores ``data``: it always opens its own "3D Secure" box ("Complete
  authentication" / "Fail authentication") and posts ``_authenticate``, which answers only a PaymentIntent already
  in ``requires_action``. The card step Stripe.js does first (a PaymentMethod from the element's card, the
  PaymentIntent confirmed with it) it leaves out, and its API takes that step with the secret key only. So the
  harness adds it: ``STRIPE_JS_CARD_STEP`` (a page script the UI tests inject before the fake loads) wraps the fake's
  ``confirmCardPayment`` to post the element's card and the client secret to ``/_config/rxdesk/confirm_card/<pi>``,
  a route added to localstripe's app here, which does in localstripe what Stripe does with them and answers as
  Stripe.js does: ``{paymentIntent}``, ``{error}`` (type ``card_error`` for a decline), or, for a 3-D Secure card,
  hands over to the fake's own ``confirmCardPayment`` (its box, then ``_authenticate``).
* Other gaps the tests know of: it ignores ``Idempotency-Key`` (a repeated create makes a second object), keeps no
  ``payment_method_types``, refunds the whole charge again when a refund names no amount (Stripe refunds what is
  left), and cannot confirm a declined PaymentIntent again with another card (Stripe can).

One server at a time per process (localstripe's state is module-level); pytest-xdist workers are processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from aiohttp import web
from localstripe import resources, webhooks
from localstripe.errors import UserError
from localstripe.server import app

SECRET_KEY_PREFIX = "sk_test_rxdesk_"
PUBLISHABLE_KEY_PREFIX = "pk_test_rxdesk_"
WEBHOOK_DELAY_S = 1.0  # localstripe's own: each webhook is sent a second after its event
EXPIRY = {"exp_month": "12", "exp_year": "2034", "cvc": "123"}

CARD_STEP_ROUTE = "/_config/rxdesk/confirm_card/{id}"  # under /_config/: localstripe asks no key there
STRIPE_JS_CARD_STEP = (Path(__file__).resolve().parent / "localstripe_card_step.js").read_text(encoding="utf-8")


async def _confirm_card(request: web.Request) -> web.Response:
    """What Stripe does with the card Stripe.js's ``confirmCardPayment`` sends (publishable key and client secret):
    a card PaymentMethod, the PaymentIntent confirmed with it. Answers as Stripe.js resolves."""
    intent_id = request.match_info["id"]
    data = await request.json()
    intent = resources.PaymentIntent._api_retrieve(intent_id)
    if not isinstance(data, dict) or data.get("client_secret") != intent.client_secret:
        raise UserError(401, "Unauthorized")
    typed = data.get("card") if isinstance(data.get("card"), dict) else {}
    card = {k: str(typed.get(k, "")) for k in ("number", "exp_month", "exp_year", "cvc")}
    try:
        method = resources.PaymentMethod._api_create(type="card", card=card)
        resources.PaymentIntent._api_update(intent_id, payment_method=method.id)
        resources.PaymentIntent._api_confirm(intent_id)
    except UserError as exc:
        error = dict(exc.body["error"])
        error["type"] = "card_error" if exc.code == 402 else "validation_error"
        if exc.code != 402:
            error["message"] = "Your card's details are incomplete or invalid."
        error["payment_intent"] = resources.PaymentIntent._api_retrieve(intent_id)._export()
        return web.json_response({"error": error})
    intent = resources.PaymentIntent._api_retrieve(intent_id)
    if intent.status == "requires_action":
        return web.json_response({"next": "authenticate"})  # the fake's own 3-D Secure box takes over
    return web.json_response({"paymentIntent": intent._export()})


if not app.frozen:  # localstripe's one app, not served yet in this process
    app.router.add_post(CARD_STEP_ROUTE, _confirm_card)

_running: LocalStripe | None = None
_running_lock = threading.Lock()
_event_loop: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    """The process's localstripe event loop, in a daemon thread (aiohttp ties localstripe's one ``app`` to the
    first loop that serves it, so every server of the process is served by this one)."""
    global _event_loop
    with _running_lock:
        if _event_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="localstripe", daemon=True).start()
            _event_loop = loop
        return _event_loop


class LocalStripe:
    """localstripe served on 127.0.0.1 (a free port) from a thread, with its state file at ``state_file``."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.secret_key = SECRET_KEY_PREFIX + secrets.token_hex(12)
        self.publishable_key = PUBLISHABLE_KEY_PREFIX + secrets.token_hex(12)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._webhook: tuple[str, str] | None = None

    # ---- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> LocalStripe:
        global _running
        with _running_lock:
            if _running is not None:
                raise RuntimeError("localstripe keeps its state in its module: one server at a time per process")
            _running = self
        self._reset_state()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]

        async def setup() -> web.AppRunner:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            return runner

        self._runner = asyncio.run_coroutine_threadsafe(setup(), _loop()).result(10)
        return self

    def stop(self) -> None:
        global _running
        runner, self._runner = self._runner, None
        try:
            if runner is not None:

                async def shutdown() -> None:
                    for task in list(self._tasks):
                        task.cancel()
                    await runner.cleanup()

                asyncio.run_coroutine_threadsafe(shutdown(), _loop()).result(10)
        finally:
            self._reset_state()
            with _running_lock:
                if _running is self:
                    _running = None

    def _reset_state(self) -> None:
        """An empty store that writes to this server's file, no webhook endpoints, and our own webhook tasks."""
        store = resources.store
        dict.clear(store)

        def dump_to_disk() -> None:
            with self.state_file.open("wb") as f:
                pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)

        def try_load_from_disk() -> None:  # never /tmp/localstripe.pickle
            pass

        store.dump_to_disk = dump_to_disk  # type: ignore[method-assign]
        store.try_load_from_disk = try_load_from_disk  # type: ignore[method-assign]
        webhooks._webhooks.clear()
        resources.schedule_webhook = self._schedule_webhook

    def _schedule_webhook(self, event: Any) -> None:
        """localstripe's ``schedule_webhook``, with the task kept (called on the server's loop)."""
        task = asyncio.ensure_future(webhooks._send_webhook(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- addresses and keys -----------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        """localstripe's fake Stripe.js (it takes its API's address from where it was loaded)."""
        return f"{self.api_base}/js.stripe.com/v3/"

    def client(self) -> stripe.StripeClient:
        """The official SDK with the secret key, pointed here (as the billing function is in the tests)."""
        return stripe.StripeClient(
            self.secret_key,
            base_addresses={"api": self.api_base},
            http_client=stripe.RequestsClient(timeout=10),
            max_network_retries=0,
        )

    # ---- webhooks ---------------------------------------------------------------------------------------------

    def send_webhooks_to(self, url: str, secret: str, events: list[str] | None = None) -> None:
        """Register a webhook endpoint (localstripe's ``POST /_config/webhooks/<id>``)."""
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        response = httpx.post(f"{self.api_base}/_config/webhooks/rxdesk", json=body, timeout=10)
        response.raise_for_status()
        self._webhook = (url, secret)

    def pending_webhooks(self) -> int:
        return len(self._tasks)

    def wait_for_webhooks(self, timeout: float = 15.0) -> None:
        """Until every webhook scheduled so far has been sent and answered."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._tasks)} webhooks still not delivered after {timeout} s")
            time.sleep(0.02)

    def deliver(self, event_type: str, data: dict[str, Any], *, secret: str | None = None) -> httpx.Response:
        """Send an event localstripe never raises, as Stripe would: the JSON event, its ``Stripe-Signature``
        computed the way localstripe signs its own (HMAC-SHA256 of ``<t>.<body>`` with the endpoint's secret)."""
        if self._webhook is None:
            raise RuntimeError("no webhook endpoint registered")
        url, registered = self._webhook
        now = int(time.time())
        event = {
            "id": "evt_" + secrets.token_hex(7),
            "object": "event",
            "api_version": "2017-08-15",
            "created": now,
            "livemode": False,
            "type": event_type,
            "data": {"object": data},
        }
        payload = json.dumps(event, indent=2, sort_keys=True)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret or registered, now)
        return httpx.post(
            url,
            content=payload.encode(),
            headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
            timeout=30,
        )

    # ---- the browser's part ---------------------------------------------------------------------------------------

    def pay(self, payment_intent: str, card_number: str) -> dict[str, Any]:
        """What Stripe.js's ``confirmCardPayment`` does with the card the user typed: a card PaymentMethod, attached
        to the PaymentIntent, which is then confirmed. localstripe takes all three with the secret key only.
        Returns the PaymentIntent as localstripe answers (a declined card: its 402 error body)."""
        with self._http() as http:
            method = http.post(
                "/v1/payment_methods", data={"type": "card", "card[number]": card_number, **_card(EXPIRY)}
            )
            method.raise_for_status()
            attached = http.post(f"/v1/payment_intents/{payment_intent}", data={"payment_method": method.json()["id"]})
            attached.raise_for_status()
            confirmed = http.post(f"/v1/payment_intents/{payment_intent}/confirm")
            if confirmed.status_code == 402:
                return dict(confirmed.json())
            confirmed.raise_for_status()
            return dict(confirmed.json())

    def authenticate(self, payment_intent: str, client_secret: str, *, success: bool = True) -> dict[str, Any]:
        """The 3-D Secure step as localstripe's fake Stripe.js does it: its ``_authenticate`` route, with the
        publishable key and the client secret (no secret key)."""
        response = httpx.post(
            f"{self.api_base}/v1/payment_intents/{payment_intent}/_authenticate",
            params={"success": "true" if success else "false"},
            json={"key": self.publishable_key, "client_secret": client_secret},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    @contextlib.contextmanager
    def _http(self) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.api_base, auth=(self.secret_key, ""), timeout=10) as http:
            yield http


def _card(expiry: dict[str, str]) -> dict[str, str]:
    return {f"card[{k}]": v for k, v in expiry.items()}


@pytest.fixture
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """A localstripe of the test's own: empty, on 127.0.0.1, its state file in a temporary folder."""
    server = LocalStripe(tmp_path_factory.mktemp("localstripe") / "localstripe.pickle").start()
    yield server
    server.stop()
