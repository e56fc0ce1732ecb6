"""Top up by card: choose a pack, pay on Stripe's card form, and the tokens arrive with the next sync.

1. The packs on sale come from the server (``sync.billing.list_packs``, in a worker).
2. "Continue to payment" asks the server to start the payment (``start_top_up``, in a worker; the same request id
   for a retry of the same pack, so a retry is the same payment). Refusals are one sentence: not connected, signed
   out, the server's own reason.
3. The card form (desktop.payment_page): embedded when Qt WebEngine is there, else "Open in browser".
4. Its outcome: paid (the top-up is recorded as pending, the balance shows "+N pending", and a sync is asked for),
   declined (the card issuer's message; try another card), 3-D Secure (Stripe.js shows the bank's step; the page
   says so), or an error.
5. After a payment the dialog asks the server how the payment stands (``payment_status``, every few seconds, in a
   worker) until Stripe's webhook has credited it, then asks for a sync, which brings the credit; the pending mark
   goes when the credit is in the ledger (core.tokens.top_ups).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from itertools import pairwise

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.context import ServiceContext
from core.ids import new_id
from core.tokens.top_ups import PendingTopUp, pending_top_up_tokens, record_top_up
from desktop import payment_page
from desktop.app_filters import pause_app_filters, resume_app_filters
from desktop.message_line import MessageLine
from desktop.messages import error_text
from desktop.operation import Operation, announce, change_notifier
from desktop.payment_page import BrowserCheckout, EmbeddedCheckout, PageOutcome
from desktop.topics import TOKENS_CHANGED
from sync.billing import Pack, PaymentStatus, TopUp, list_packs, payment_status, start_top_up

log = logging.getLogger(__name__)

POLL_MS = 2000
POLL_TIMES = 45  # about a minute and a half; after that the regular sync brings the credit anyway


def money(pence: int, currency: str = "gbp") -> str:
    return f"£{pence / 100:,.2f}" if currency.lower() == "gbp" else f"{pence / 100:,.2f} {currency.upper()}"


def pack_text(pack: Pack) -> str:
    return f"{pack.name.capitalize()}: {pack.tokens:,} tokens for {money(pack.amount_pence, pack.currency)}"


class TopUpDialog(QDialog):
    def __init__(self, parent: QWidget | None, ctx: ServiceContext, account_id: str, account_name: str) -> None:
        super().__init__(parent)
        self.ctx, self.account_id, self.account_name = ctx, account_id, account_name
        self.setWindowTitle("RxDesk: Top up by card")
        self.packs: list[Pack] = []
        self.top_up: TopUp | None = None
        self.recorded: PendingTopUp | None = None
        self.outcomes: list[PageOutcome] = []  # what the page said, in order
        self.operation: Operation | None = None
        self.embedded: EmbeddedCheckout | None = None
        self.browser: BrowserCheckout | None = None
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl  # replaced in tests
        self._requests: dict[str, str] = {}  # pack → request id: a retry of the same pack is the same payment
        self._polls = 0
        self._closed = False

        heading = QLabel(f"Top up {account_name} by card")
        heading.setObjectName("counterTitle")
        heading.setWordWrap(True)
        self.choose = QWidget()
        choose_layout = QVBoxLayout(self.choose)
        self.pack_label = QLabel("Finding the packs on sale…")
        choose_layout.addWidget(self.pack_label)
        self.pack_buttons = QButtonGroup(self)
        self.pack_box = QVBoxLayout()
        choose_layout.addLayout(self.pack_box)
        hint = QLabel(
            "You pay on Stripe's secure card form: RxDesk never sees the card. The server credits the tokens once the "
            "payment has gone through, and they reach this workstation with the next sync."
        )
        hint.setWordWrap(True)
        choose_layout.addWidget(hint)
        choose_layout.addStretch(1)
        self.pay = QWidget()
        self.pay_layout = QVBoxLayout(self.pay)
        self.pay_layout.setContentsMargins(0, 0, 0, 0)
        self.browser_note = QLabel(
            "The card form opens in your web browser. Pay there, then come back: this window shows the outcome."
        )
        self.browser_note.setWordWrap(True)
        self.browser_note.hide()
        self.pay_layout.addWidget(self.browser_note)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.choose)
        self.stack.addWidget(self.pay)
        self.message = MessageLine()
        self.message.setAccessibleName("Top-up outcome")
        self.continue_button = QPushButton("Continue to payment")
        self.continue_button.setDefault(True)
        self.continue_button.setEnabled(False)
        self.browser_button = QPushButton("Open in browser")
        self.browser_button.setToolTip("Pay on the same card form in your web browser")
        self.browser_button.hide()
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.browser_button)
        buttons.addStretch(1)
        buttons.addWidget(self.continue_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        for button, name in (
            (self.continue_button, "Continue to payment"),
            (self.browser_button, "Open the card form in the web browser"),
            (self.close_button, "Close the top-up"),
        ):
            button.setAccessibleName(name)
        self.continue_button.clicked.connect(self.start_payment)
        self.browser_button.clicked.connect(self.open_in_browser)
        self.close_button.clicked.connect(self.reject)
        change_notifier().changed.connect(self._on_changes)
        self.resize(640, 420)
        self._load_packs()

    # -- 1. packs ------------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.operation is not None

    def _run(
        self, fn: Callable[[], object], done: Callable[[object], None], *, changes: frozenset[str] = frozenset()
    ) -> None:
        operation = Operation(lambda _report: fn(), changes=changes)
        operation.succeeded.connect(lambda result: None if self._closed else done(result))
        operation.failed.connect(lambda error: None if self._closed else self._failed(error))
        operation.finished.connect(self._idle)
        self.operation = operation.start()
        self._show_busy()

    def _idle(self) -> None:
        self.operation = None
        if not self._closed:
            self._show_busy()

    def _show_busy(self) -> None:
        choosing = self.stack.currentWidget() is self.choose
        self.continue_button.setEnabled(choosing and not self.busy and self.pack_buttons.checkedButton() is not None)

    def _failed(self, error: object) -> None:
        text = error_text(error) if isinstance(error, BaseException) else str(error)
        self.message.say(text, failed=True)
        if not self.packs:
            self.pack_label.setText("No packs could be listed.")

    def _load_packs(self) -> None:
        ctx = self.ctx
        self._run(lambda: list_packs(ctx), self._show_packs)

    def _show_packs(self, packs: object) -> None:
        assert isinstance(packs, list)
        self.packs = packs
        self.pack_label.setText("Choose a pack:" if packs else "The server has no packs on sale.")
        previous: QWidget = self.pack_label
        for index, pack in enumerate(packs):
            button = QRadioButton(pack_text(pack))
            button.setAccessibleName(pack_text(pack))
            self.pack_buttons.addButton(button, index)
            self.pack_box.addWidget(button)
            QWidget.setTabOrder(previous, button)
            previous = button
        if packs:
            first = self.pack_buttons.button(0)
            first.setChecked(True)
            first.setFocus()
        for before, after in pairwise((previous, self.continue_button, self.close_button)):
            QWidget.setTabOrder(before, after)
        self.pack_buttons.idToggled.connect(lambda *_: self._show_busy())
        self._show_busy()

    def chosen_pack(self) -> Pack | None:
        index = self.pack_buttons.checkedId()
        return self.packs[index] if 0 <= index < len(self.packs) else None

    def choose_pack(self, name: str) -> None:
        for index, pack in enumerate(self.packs):
            if pack.name == name:
                self.pack_buttons.button(index).setChecked(True)

    # -- 2. the payment --------------------------------------------------------------------------------------------
    def start_payment(self) -> None:
        pack = self.chosen_pack()
        if pack is None or self.busy:
            return
        request_id = self._requests.setdefault(pack.name, new_id())
        ctx, account_id = self.ctx, self.account_id
        self.message.say("Starting the payment with the server…")
        self._run(lambda: start_top_up(ctx, account_id, pack.name, request_id=request_id), self._show_form)

    def _show_form(self, top_up: object) -> None:
        assert isinstance(top_up, TopUp)
        self.top_up = top_up
        self.stack.setCurrentWidget(self.pay)
        self.continue_button.hide()
        self.message.hide()
        if payment_page.web_engine_available():
            pause_app_filters()  # for as long as the view lives (desktop.app_filters: PySide recurses otherwise)
            try:
                self.embedded = EmbeddedCheckout(self.pay)
            except Exception:  # WebEngine is there but would not start (no GPU context, a missing library…)
                resume_app_filters()
                log.exception("The embedded card form could not be made")
                self._offer_browser("The card form cannot be shown in this window: open it in your web browser.")
                return
            self.embedded.destroyed.connect(resume_app_filters)
            self.pay_layout.addWidget(self.embedded, 1)
            self.embedded.outcome.connect(self._on_outcome)
            self.embedded.broken.connect(self._offer_browser)
            self.embedded.load(top_up)
            self.embedded.setFocus()
        else:
            self._offer_browser("Qt WebEngine is not installed here: open the card form in your web browser.")

    def _offer_browser(self, why: str) -> None:
        self.browser_note.show()
        self.browser_button.show()
        self.browser_button.setFocus()
        if self.embedded is not None:
            self.embedded.hide()
        self.message.say(why)

    def open_in_browser(self) -> None:
        if self.top_up is None:
            return
        if self.browser is None:
            self.browser = BrowserCheckout(self.top_up, self)
            self.browser.outcome.connect(self._on_outcome)
        self.open_url(QUrl(self.browser.url))
        self.message.say("The card form is open in your web browser: pay there, and the outcome shows here.")

    # -- 3. the outcome ----------------------------------------------------------------------------------------------
    def _on_outcome(self, outcome: PageOutcome) -> None:
        if self._closed or self.top_up is None:
            return
        self.outcomes.append(outcome)
        kind = outcome.outcome
        if kind == "ready":
            self.message.hide()
        elif kind == "paying":
            self.message.say(
                "Paying… If your card issuer asks you to confirm the payment (3-D Secure), follow the steps in the "
                "window it shows."
            )
        elif kind in ("succeeded", "processing"):
            if outcome.payment_intent and outcome.payment_intent != self.top_up.payment_intent:
                self.message.say("The card form reported another payment: nothing was recorded.", failed=True)
                return
            if kind == "succeeded":
                self._record()
            else:
                self.message.say("Your card issuer is still processing the payment: the tokens arrive when it is done.")
            self._poll_soon()
        elif kind == "declined":
            self.message.say(f"Declined: {outcome.message or 'the card was declined.'} Try another card.", failed=True)
        else:
            self.message.say(f"The payment could not be completed: {outcome.message or 'try again.'}", failed=True)

    def _record(self) -> None:
        top_up = self.top_up
        if top_up is None or self.recorded is not None:
            return
        ctx, account_id = self.ctx, self.account_id

        def record() -> PendingTopUp:
            return record_top_up(
                ctx, account_id=account_id, payment_id=top_up.payment_id, credit_id=top_up.credit_id,
                pack=top_up.pack, tokens=top_up.tokens,
            )  # fmt: skip

        self.message.say("Paid: the tokens arrive with the next sync.")
        # TOKENS_CHANGED: the balances show the pending top-up, and sync runs soon (desktop.topics.LOCAL_WORK).
        self._run(record, self._recorded, changes=frozenset({TOKENS_CHANGED}))

    def _recorded(self, pending: object) -> None:
        assert isinstance(pending, PendingTopUp)
        self.recorded = pending

    # -- 4. until the server has credited it -------------------------------------------------------------------------
    def _poll_soon(self) -> None:
        if self._polls < POLL_TIMES and not self._closed:
            self._polls += 1
            QTimer.singleShot(POLL_MS, self._poll)

    def _poll(self) -> None:
        if self._closed or self.top_up is None:
            return
        if self.busy:
            self._poll_soon()
            return
        ctx, payment_id = self.ctx, self.top_up.payment_id
        operation = Operation(lambda _report: payment_status(ctx, payment_id))
        operation.succeeded.connect(lambda status: None if self._closed else self._heard_status(status))
        operation.failed.connect(lambda _error: None if self._closed else self._poll_soon())  # offline: try again
        operation.start()

    def _heard_status(self, status: PaymentStatus) -> None:
        if status.status == "succeeded":
            if self.recorded is None:
                self._record()  # it was still processing when the page closed
            announce(TOKENS_CHANGED)  # the credit is on the server now: sync soon brings it
        elif status.status == "failed" and self.recorded is None:
            reason = status.failure_reason or "the card was declined."
            self.message.say(f"Declined: {reason} Try another card.", failed=True)
        else:
            self._poll_soon()

    def _on_changes(self, topics: frozenset[str]) -> None:
        if self._closed or self.recorded is None or TOKENS_CHANGED not in topics:
            return
        with contextlib.suppress(Exception):  # a refresh, not a change: the balance in the status bar says it too
            if pending_top_up_tokens(self.ctx, self.account_id) == 0:
                self.message.say(f"The {self.recorded.tokens:,} tokens have arrived.")

    # -- closing ---------------------------------------------------------------------------------------------------
    def done(self, result: int) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(RuntimeError, TypeError):
                change_notifier().changed.disconnect(self._on_changes)
            if self.browser is not None:
                self.browser.close()
            if self.embedded is not None:
                self.embedded.clear()
                self.embedded.deleteLater()  # the app's event filters come back once it is gone
        super().done(result)
