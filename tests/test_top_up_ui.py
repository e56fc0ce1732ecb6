"""Top up by card in the desktop app (pytest-qt, Qt WebEngine offscreen): the dialog, the embedded payment page with
localstripe's fake Stripe.js, the billing function in the Appwrite stand-in, Stripe's webhook, and the workstation's
own sync runner bringing the credit; then the "Open in browser" way, with WebEngine made unavailable.

The card is typed the way a user types it: localstripe's fake card element is plain ``<input>``s in the page (real
Stripe.js's is an iframe of Stripe's), so the test puts the focus in its number field (page JS: ``focus()``) and
sends real key presses to the view (``QTest.keyClicks`` on its focus proxy); the fake element moves the focus on by
itself as each field fills, and Enter in the last field submits the form, as it would for a user. localstripe's
Stripe.js leaves out the card step of ``confirmCardPayment``; the harness's page script supplies it
(tests/fakes/localstripe_server.py), injected before the page loads.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStatusBar
from pytestqt.qtbot import QtBot

from core.tokens.ledger import create_account
from core.tokens.top_ups import pending_top_ups
from desktop import app_filters, payment_page
from desktop.admin_tokens import TokensPanel
from desktop.payment_page import EmbeddedCheckout
from desktop.scanner import ScanDetector
from desktop.status_indicators import StatusIndicators
from desktop.sync_runner import SyncRunner
from desktop.top_up_dialog import TopUpDialog
from sync.connection import sign_in as server_sign_in
from sync.engine import SyncState
from tests.clinic import Clinic, TestClock
from tests.fakes.appwrite import AppwriteStandin
from tests.fakes.localstripe_server import STRIPE_JS_CARD_STEP, LocalStripe
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync_world import ACCOUNT_PASSWORD, SyncWorld, world

EMAIL = "front-desk@example.org"
SUCCESS, DECLINE, THREE_D_SECURE = "4242424242424242", "4000000000000341", "4000002500003155"
WAIT_MS = 30_000


@dataclass
class Shop:
    world: SyncWorld
    stripe: LocalStripe
    clinic: Clinic
    runner: SyncRunner

    @property
    def server(self) -> AppwriteStandin:
        return self.world.server

    def synced(self, qtbot: QtBot) -> None:
        self.runner.sync_now()
        qtbot.waitUntil(self._up_to_date, timeout=WAIT_MS)

    def _up_to_date(self) -> bool:
        status = self.runner.status
        return status is not None and status.state is SyncState.UP_TO_DATE and status.pending == 0


def ticking(clock: TestClock) -> Callable[[], datetime]:
    """The clinic's clock, a second on at each reading: each sync has a time of its own (the runner tells the
    views what a sync brought only when its time differs from the last one's)."""

    def now() -> datetime:
        clock.advance(seconds=1)
        return clock()

    return now


@pytest.fixture
def shop(
    qtbot: QtBot,
    appwrite_server: Callable[..., AppwriteStandin],
    localstripe: LocalStripe,
    memory_keyring: MemoryKeyring,
    clinic: Clinic,
    tmp_path: Path,
) -> Iterator[Shop]:
    """The clinic's workstation signed in to the stand-in, its own sync runner going, the billing function set up
    with localstripe (its Stripe.js for the payment page) and localstripe's webhooks going to the function."""
    sync_world = world(appwrite_server(), tmp_path)
    sync_world.account(EMAIL)
    server = sync_world.server
    server_sign_in(clinic.database, server.endpoint, server.project_id, EMAIL, ACCOUNT_PASSWORD)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    server.set_function_variables(
        "billing",
        {
            "STRIPE_SECRET_KEY": localstripe.secret_key,
            "STRIPE_PUBLISHABLE_KEY": localstripe.publishable_key,
            "STRIPE_WEBHOOK_SECRET": webhook_secret,
            "STRIPE_API_BASE": localstripe.api_base,
            "STRIPE_JS_URL": localstripe.js_url,
        },
    )
    localstripe.send_webhooks_to(server.function_url("billing", "/webhook"), webhook_secret)
    runner = SyncRunner(clinic.database, clock=ticking(clinic.clock), tick_s=60)
    runner.start()
    shop = Shop(sync_world, localstripe, clinic, runner)
    try:
        yield shop
    finally:
        assert runner.stop(), "the sync thread did not end"


@pytest.fixture
def card_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every embedded payment page gets the harness's card step for localstripe's Stripe.js, before it loads."""
    from PySide6.QtWebEngineCore import QWebEngineScript

    made = EmbeddedCheckout.__init__

    def with_card_step(self: EmbeddedCheckout, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        script = QWebEngineScript()
        script.setName("localstripe-card-step")
        script.setSourceCode(STRIPE_JS_CARD_STEP)
        script.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
        script.setWorldId(QWebEngineScript.ScriptWorldId.MainWorld)
        self.page.scripts().insert(script)

    monkeypatch.setattr(EmbeddedCheckout, "__init__", with_card_step)


def page_value(qtbot: QtBot, checkout: EmbeddedCheckout, script: str) -> Any:
    """The value of a page expression (runJavaScript answers later, on the UI thread)."""
    answers: list[Any] = []
    checkout.page.runJavaScript(script, 0, answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=WAIT_MS)
    return answers[0]


def outcomes(dialog: TopUpDialog) -> list[str]:
    return [o.outcome for o in dialog.outcomes]


def open_form(qtbot: QtBot, dialog: TopUpDialog, pack: str) -> EmbeddedCheckout:
    """Packs listed, one chosen, the payment started, the card form ready."""
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.continue_button.isEnabled(), timeout=WAIT_MS)
    dialog.choose_pack(pack)
    dialog.continue_button.click()
    qtbot.waitUntil(lambda: "ready" in outcomes(dialog), timeout=WAIT_MS)
    checkout = dialog.embedded
    assert checkout is not None and checkout.isVisible()
    return checkout


def type_card(qtbot: QtBot, checkout: EmbeddedCheckout, number: str) -> None:
    """Key presses into the fake card element, field after field as its focus moves on, then Enter."""
    page_value(qtbot, checkout, "document.querySelector('#card-element input').focus(); true")
    target = checkout.view.focusProxy()
    assert target is not None
    for text in (number, "12", "34", "123", "LS14AP"):
        QTest.keyClicks(target, text)
        qtbot.wait(50)
    inputs = "document.querySelectorAll('#card-element input')"
    typed = page_value(qtbot, checkout, f"JSON.stringify(Array.from({inputs}).map(i => i.value))")
    assert json.loads(typed) == [number, "12", "34", "123", "LS14AP"]
    QTest.keyClick(target, Qt.Key.Key_Return)


def test_an_admin_tops_up_the_pool_by_card_and_the_balance_follows_sync(
    qtbot: QtBot, shop: Shop, card_step: None
) -> None:
    clinic = shop.clinic
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    shop.synced(qtbot)
    panel = TokensPanel(clinic.admin)
    qtbot.addWidget(panel)
    panel.show()
    ScanDetector(panel)  # an app-wide Python event filter, as every main window has (desktop.app_filters)
    bar = QStatusBar()
    qtbot.addWidget(bar)
    indicators = StatusIndicators(bar, clinic.prescriber, lambda: None)  # a prescriber spends the clinic's pool
    try:
        assert indicators.tokens.text() == "Tokens: 0" and not indicators.top_up.isVisibleTo(bar)  # the pool's
        assert panel.top_up_button.isVisible() and panel.top_up_button.isEnabled()
        assert panel.credit_button.isHidden()  # typed-in credits are for standalone installations only
        dialog = panel.top_up()
        assert isinstance(dialog, TopUpDialog)
        qtbot.waitUntil(lambda: len(dialog.packs) == 3, timeout=WAIT_MS)
        labels = [b.text() for b in dialog.pack_buttons.buttons()]
        assert labels == [
            "Small: 100 tokens for £10.00",
            "Medium: 500 tokens for £45.00",
            "Large: 1,000 tokens for £80.00",
        ]
        checkout = open_form(qtbot, dialog, "small")
        assert page_value(qtbot, checkout, "document.getElementById('amount').textContent") == "£10.00"
        assert page_value(qtbot, checkout, "document.getElementById('pack').textContent") == "Small: 100 tokens"
        assert page_value(qtbot, checkout, "location.protocol") == "https:"  # what Stripe.js asks of live pages

        type_card(qtbot, checkout, SUCCESS)
        qtbot.waitUntil(lambda: "succeeded" in outcomes(dialog), timeout=WAIT_MS)
        assert dialog.message.text() == "Paid: the tokens arrive with the next sync."
        assert "Paid" in page_value(qtbot, checkout, "document.getElementById('status').textContent")
        qtbot.waitUntil(lambda: indicators.tokens.text() == "Tokens: 0 (+100 pending)", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: panel.title.text().endswith("Tokens: 0 (+100 pending)"), timeout=WAIT_MS)
        [pending] = pending_top_ups(clinic.admin)
        assert (pending.account_id, pending.tokens, pending.credit_id) == (pool, 100, dialog.top_up.credit_id)  # type: ignore[union-attr]

        # Stripe's webhook credits the pool on the server; the dialog hears the payment is done and asks for a
        # sync, which brings the credit: the pending mark goes.
        qtbot.waitUntil(lambda: indicators.tokens.text() == "Tokens: 100", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: panel.title.text().endswith("Tokens: 100"), timeout=WAIT_MS)
        assert pending_top_ups(clinic.admin) == []
        assert dialog.message.text() == "The 100 tokens have arrived."
        credit = shop.world.server_rows("ledger_entry")[dialog.top_up.credit_id]  # type: ignore[union-attr]
        assert credit["amount"] == 100 and credit["account_id"] == pool
        assert app_filters.paused()  # while the WebEngine view lives
        dialog.close()
        qtbot.waitUntil(lambda: not app_filters.paused(), timeout=WAIT_MS)  # back once the view is gone
    finally:
        indicators.disconnect()


def test_a_prescriber_tops_up_their_own_account_a_declined_card_then_3d_secure(
    qtbot: QtBot, shop: Shop, card_step: None
) -> None:
    clinic = shop.clinic
    own = create_account(clinic.admin, "user", clinic.prescriber.actor.user_id).id  # no clinic pool: their own
    shop.synced(qtbot)
    bar = QStatusBar()
    qtbot.addWidget(bar)
    bar.show()
    indicators = StatusIndicators(bar, clinic.prescriber, lambda: None)
    try:
        assert indicators.tokens.text() == "Tokens: 0" and indicators.top_up.isVisible()
        assert indicators.top_up.accessibleName() == "Top up my tokens by card"

        # Declined: the card issuer's message, try another card, nothing pending.
        declined = indicators.open_top_up()
        assert isinstance(declined, TopUpDialog) and declined.account_id == own
        checkout = open_form(qtbot, declined, "medium")
        assert page_value(qtbot, checkout, "document.getElementById('pay').textContent") == "Pay £45.00"
        type_card(qtbot, checkout, DECLINE)
        qtbot.waitUntil(lambda: "declined" in outcomes(declined), timeout=WAIT_MS)
        assert declined.message.text() == "Declined: Your card was declined. Try another card."
        page_status = page_value(qtbot, checkout, "document.getElementById('status').textContent")
        assert page_status == "Your card was declined. Try another card."
        assert pending_top_ups(clinic.prescriber) == [] and indicators.tokens.text() == "Tokens: 0"
        assert declined.recorded is None
        shop.stripe.wait_for_webhooks()  # the failure reaches the server's payment row; no credit
        assert not [r for r in shop.world.server_rows("ledger_entry").values() if r["kind"] == "credit"]
        declined.close()

        # 3-D Secure: localstripe's Stripe.js opens its own "3D Secure" box with "Complete authentication" focused
        # (real Stripe.js shows the bank's page in a frame); Enter completes it, then the payment goes through.
        secure = indicators.open_top_up()
        assert isinstance(secure, TopUpDialog)
        checkout = open_form(qtbot, secure, "large")
        type_card(qtbot, checkout, THREE_D_SECURE)
        qtbot.waitUntil(lambda: "paying" in outcomes(secure), timeout=WAIT_MS)
        assert "3-D Secure" in secure.message.text()
        box = "Array.from(document.querySelectorAll('button')).map(b => b.textContent).join('|')"
        qtbot.waitUntil(lambda: "Complete authentication" in page_value(qtbot, checkout, box), timeout=WAIT_MS)
        assert page_value(qtbot, checkout, "document.activeElement.textContent") == "Complete authentication"
        QTest.keyClick(checkout.view.focusProxy(), Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: "succeeded" in outcomes(secure), timeout=WAIT_MS)
        assert secure.message.text() == "Paid: the tokens arrive with the next sync."
        qtbot.waitUntil(lambda: indicators.tokens.text() == "Tokens: 0 (+1,000 pending)", timeout=WAIT_MS)
        qtbot.waitUntil(lambda: indicators.tokens.text() == "Tokens: 1,000", timeout=WAIT_MS)
        assert pending_top_ups(clinic.prescriber) == []
        secure.close()
    finally:
        indicators.disconnect()


def test_without_web_engine_the_card_form_opens_in_the_browser(
    qtbot: QtBot, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payment_page, "web_engine_available", lambda: False)
    clinic = shop.clinic
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    shop.synced(qtbot)
    dialog = TopUpDialog(None, clinic.admin, pool, "Riverside Surgery")
    opened: list[QUrl] = []
    dialog.open_url = opened.append
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.continue_button.isEnabled(), timeout=WAIT_MS)
    dialog.continue_button.click()
    qtbot.waitUntil(lambda: dialog.browser_button.isVisible(), timeout=WAIT_MS)
    assert dialog.embedded is None
    assert dialog.message.text() == "Qt WebEngine is not installed here: open the card form in your web browser."
    dialog.browser_button.click()
    [url] = [u.toString() for u in opened]
    top_up = dialog.top_up
    assert top_up is not None
    assert url.startswith("http://127.0.0.1:") and top_up.client_secret not in url and "#" not in url

    # What the browser does with the page: the page, then the payment once (never a second time), then the outcome.
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and top_up.client_secret not in page.text and "confirmCardPayment" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    details = httpx.post(url + "payment", timeout=10).json()
    assert details["client_secret"] == top_up.client_secret and details["stripe_js_url"] == shop.stripe.js_url
    assert (details["pack"], details["amount_pence"], details["tokens"]) == ("small", 1000, 100)
    assert httpx.post(url + "payment", timeout=10).status_code == 410
    assert httpx.get(url.replace(url.split("/")[3], "guess"), timeout=10).status_code == 404
    shop.stripe.pay(top_up.payment_intent, SUCCESS)  # what Stripe.js does in the browser with the card typed
    report = {"outcome": "succeeded", "payment_intent": top_up.payment_intent}
    assert httpx.post(url + "outcome", content=json.dumps(report), timeout=10).status_code == 204
    qtbot.waitUntil(lambda: dialog.message.text() == "Paid: the tokens arrive with the next sync.", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bool(pending_top_ups(clinic.admin)), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not pending_top_ups(clinic.admin), timeout=WAIT_MS)  # credited, synced, cleared
    dialog.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)  # the page's server ends with the dialog


def test_a_top_up_that_cannot_start_says_why_in_one_sentence(
    qtbot: QtBot, shop: Shop, monkeypatch: pytest.MonkeyPatch, clinic: Clinic, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setattr(payment_page, "web_engine_available", lambda: False)
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    shop.synced(qtbot)
    # The server refuses: a prescriber may not buy for the clinic's pool.
    refused = TopUpDialog(None, clinic.prescriber, pool, "Riverside Surgery")
    qtbot.addWidget(refused)
    qtbot.waitUntil(lambda: refused.continue_button.isEnabled(), timeout=WAIT_MS)
    refused.continue_button.click()
    qtbot.waitUntil(lambda: not refused.busy and refused.message.text() != "Starting the payment with the server…")
    assert refused.message.text() == "Only a clinic admin may buy tokens for the clinic's pool."
    assert refused.stack.currentWidget() is refused.choose and refused.continue_button.isEnabled()
    refused.close()

    # Signed out: the server ended the workstation's session.
    [secret] = [v for (_s, name), v in memory_keyring.secrets.items() if name.startswith("appwrite-session:")]
    shop.server.expire_session(secret)
    signed_out = TopUpDialog(None, clinic.admin, pool, "Riverside Surgery")
    qtbot.addWidget(signed_out)
    qtbot.waitUntil(lambda: not signed_out.busy, timeout=WAIT_MS)
    assert signed_out.message.text() == "The server has signed this workstation out: sign it in again (Admin → Sync)."
    assert signed_out.pack_label.text() == "No packs could be listed." and not signed_out.continue_button.isEnabled()
    signed_out.close()


def test_a_standalone_installation_is_told_top_ups_need_the_server(qtbot: QtBot, clinic: Clinic) -> None:
    pool = create_account(clinic.admin, "organisation", clinic.clinic.id).id
    dialog = TopUpDialog(None, clinic.admin, pool, "Riverside Surgery")
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.message.text() == (
        "This workstation is not connected to a server: tokens are bought through the server."
    )
