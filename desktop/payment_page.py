"""The card payment page (resources/payment/) and its two hosts: embedded in a QWebEngineView, or opened in the
user's web browser when Qt WebEngine cannot be had.

The page is Stripe.js's card element and ``stripe.confirmCardPayment``: the card goes from the element to Stripe,
never through RxDesk. The page asks its host for the payment (pack, amount, publishable key, client secret, the
Stripe.js address) and tells it the outcome as JSON text (see checkout.js); neither way carries a card detail.

Embedded (``EmbeddedCheckout``): the page's HTML (its CSS and JS inlined) is set with an ``https://`` base address,
because Stripe.js refuses live keys on a page that is not HTTPS (file:, qrc: and data: pages fail; embedded Stripe
integrations set an https base the same way). Nothing is fetched from that address (``.invalid`` never resolves):
the page loads only Stripe.js. It talks to Python through QWebChannel: qwebchannel.js (Qt's own,
qrc:///qtwebchannel/qwebchannel.js) is injected as a user script, which is how Qt has remote-origin pages use it, and
the ``host`` object answers ``details()`` and takes ``report(text)``. The profile is off the record: no history,
cache or cookies reach the disk, so the client secret is nowhere but in that page's memory.

In the browser (``BrowserCheckout``): a small HTTP server on 127.0.0.1, on a free port, for as long as the dialog is
open, serves the same page at ``/<random token>/``. The address holds no secret (the browser's history keeps only a
dead local address); the page fetches the payment once with a POST (a second ask is refused: the client secret is
handed out once and never sits in a URL, a log or the history) and POSTs its outcome back beside it. Stripe.js
is loaded over the network as in the app. Caveat: that page is ``http://127.0.0.1``, not HTTPS; Stripe.js accepts
it with test keys, and whether it does with live keys could not be checked here (no live key): if not, the
browser fallback needs the page served from an HTTPS address of the organisation's own.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import threading
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QFile, QIODevice, QObject, Qt, QUrl, Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.paths import RESOURCES

if TYPE_CHECKING:  # the Appwrite SDK behind it takes half a second to import: not before the sign-in window
    from sync.billing import TopUp

log = logging.getLogger(__name__)

PAGE_DIR = RESOURCES / "payment"
PAGE_BASE = "https://checkout.rxdesk.invalid/"  # an https document address that never resolves (RFC 2606)
QWEBCHANNEL_JS = ":/qtwebchannel/qwebchannel.js"
MAX_OUTCOME_BYTES = 4096
OUTCOMES = frozenset({"ready", "paying", "succeeded", "processing", "declined", "error"})


def prepare_web_engine() -> None:
    """Before the QApplication is made: what Qt WebEngine needs to start later, in a dialog."""
    # WebEngine shares OpenGL contexts with the widgets; the attribute must be set before the application exists.
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium's sandbox refuses to start as root (a kiosk or a container run as root): WebEngine would fail,
        # and with it the card form. Only then, and only for this process, is it turned off; as any other user the
        # sandbox stays on. The page it guards loads only our HTML and Stripe.js.
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")


def web_engine_available() -> bool:
    """Qt WebEngine can be imported (it is a separate, large part of Qt: a trimmed install may lack it)."""
    try:
        import PySide6.QtWebEngineWidgets  # noqa: F401
    except ImportError:
        return False
    return True


def checkout_html() -> str:
    """checkout.html with its stylesheet and script inlined: one document that needs nothing but Stripe.js."""
    html = (PAGE_DIR / "checkout.html").read_text(encoding="utf-8")
    css = (PAGE_DIR / "checkout.css").read_text(encoding="utf-8")
    script = (PAGE_DIR / "checkout.js").read_text(encoding="utf-8")
    html = html.replace('<link rel="stylesheet" href="checkout.css">', f"<style>\n{css}</style>")
    return html.replace('<script src="checkout.js"></script>', f"<script>\n{script}</script>")


def payment_details(top_up: TopUp) -> str:
    """What the page is given (and nothing else): the client secret goes to Stripe.js through here only."""
    return json.dumps(
        {
            "pack": top_up.pack,
            "tokens": top_up.tokens,
            "amount_pence": top_up.amount_pence,
            "currency": top_up.currency,
            "publishable_key": top_up.publishable_key,
            "client_secret": top_up.client_secret,
            "stripe_js_url": top_up.stripe_js_url,
        }
    )


@dataclass(frozen=True)
class PageOutcome:
    """What the page told: ``outcome`` is one of OUTCOMES."""

    outcome: str
    message: str = ""
    code: str = ""
    payment_intent: str = ""


def parse_outcome(text: str) -> PageOutcome | None:
    """The page's report, checked; None for anything else (never logged: it is the page's text)."""
    try:
        data = json.loads(text[:MAX_OUTCOME_BYTES])
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("outcome") not in OUTCOMES:
        return None

    def field(name: str, limit: int) -> str:
        value = data.get(name)
        return value[:limit] if isinstance(value, str) else ""

    return PageOutcome(str(data["outcome"]), field("message", 300), field("code", 64), field("payment_intent", 64))


class PaymentHost(QObject):
    """The object the page sees as ``host`` through QWebChannel."""

    reported = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.details_json = ""

    @Slot(result=str)
    def details(self) -> str:
        return self.details_json

    @Slot(str)
    def report(self, text: str) -> None:
        self.reported.emit(text)


def _qwebchannel_js() -> str:
    source = QFile(QWEBCHANNEL_JS)
    if not source.open(QIODevice.OpenModeFlag.ReadOnly):
        raise RuntimeError("Qt's qwebchannel.js is missing.")
    try:
        return bytes(source.readAll().data()).decode("utf-8")
    finally:
        source.close()


_profiles: list[QObject] = []


def _profile(kind: Any) -> Any:
    """The payment pages' profile, one for the process: off the record (no storage name), so no history, cache or
    cookie reaches the disk. It belongs to the application, so it outlives every page (a profile must)."""
    if not _profiles:
        _profiles.append(kind(QCoreApplication.instance()))
    return _profiles[0]


class EmbeddedCheckout(QWidget):
    """The page in a QWebEngineView. ``outcome`` carries each PageOutcome; ``broken`` a sentence when the page
    cannot be shown (WebEngine's process died, or the page did not load)."""

    outcome = Signal(object)
    broken = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtWebChannel import QWebChannel
        from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineScript
        from PySide6.QtWebEngineWidgets import QWebEngineView

        self.view = QWebEngineView(self)
        self.view.setAccessibleName("Card payment form")
        self.profile = _profile(QWebEngineProfile)
        self.page = QWebEnginePage(self.profile, self.view)
        self.view.setPage(self.page)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        script = QWebEngineScript()
        script.setName("qwebchannel")
        script.setSourceCode(_qwebchannel_js())
        script.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
        script.setWorldId(QWebEngineScript.ScriptWorldId.MainWorld)
        script.setRunsOnSubFrames(False)
        self.page.scripts().insert(script)
        self.host = PaymentHost(self)
        self.channel = QWebChannel(self.page)
        self.channel.registerObject("host", self.host)
        self.page.setWebChannel(self.channel)
        self.host.reported.connect(self._reported)
        self.page.loadFinished.connect(self._loaded)
        self.page.renderProcessTerminated.connect(self._died)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setFocusProxy(self.view)

    def load(self, top_up: TopUp) -> None:
        self.host.details_json = payment_details(top_up)
        self.page.setHtml(checkout_html(), QUrl(PAGE_BASE))

    def clear(self) -> None:
        """Forget the payment (the page and the client secret it was given)."""
        self.host.details_json = ""
        self.page.setHtml("<html></html>", QUrl(PAGE_BASE))

    def _reported(self, text: str) -> None:
        outcome = parse_outcome(text)
        if outcome is not None:
            self.outcome.emit(outcome)

    def _loaded(self, ok: bool) -> None:
        if not ok and self.host.details_json:
            self.broken.emit("The card form could not be shown here: open it in your web browser instead.")

    def _died(self, *_status: Any) -> None:
        self.broken.emit("The card form stopped working here: open it in your web browser instead.")


class BrowserCheckout(QObject):
    """The page for the user's web browser, served on 127.0.0.1 while the dialog is open. ``outcome`` carries each
    PageOutcome the page POSTs back (on the UI thread)."""

    outcome = Signal(object)
    _posted = Signal()  # from the server's thread: news to read (no Python object rides a cross-thread signal)

    def __init__(self, top_up: TopUp, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.token = secrets.token_urlsafe(18)
        self._details: str | None = payment_details(top_up)
        self._html = checkout_html().encode("utf-8")
        self._news: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._posted.connect(self._read_news, Qt.ConnectionType.QueuedConnection)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_PageHandler, self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="payment-page", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{self.token}/"

    def close(self) -> None:
        with self._lock:
            self._details = None
        self.server.shutdown()
        self.server.server_close()

    # -- in the server's thread ----------------------------------------------------------------------------------
    def hand_out_details(self) -> str | None:
        """The payment, once: a second ask (another tab, another program) gets nothing."""
        with self._lock:
            details, self._details = self._details, None
        return details

    def heard(self, text: str) -> None:
        self._news.put(text)
        self._posted.emit()

    # -- on the UI thread ----------------------------------------------------------------------------------------
    @Slot()
    def _read_news(self) -> None:
        while True:
            try:
                text = self._news.get_nowait()
            except queue.Empty:
                return
            outcome = parse_outcome(text)
            if outcome is not None:
                self.outcome.emit(outcome)


class _PageHandler(BaseHTTPRequestHandler):
    server_version = "RxDesk"
    sys_version = ""

    def __init__(self, checkout: BrowserCheckout, *args: Any) -> None:
        self.checkout = checkout
        super().__init__(*args)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request lines hold the page's token: not for the log

    def _answer(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == f"/{self.checkout.token}/":
            self._answer(200, self.checkout._html, "text/html; charset=utf-8")
        else:
            self._answer(404, b"Not found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_OUTCOME_BYTES:
            self._answer(413, b"Too large")
            return
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if self.path == f"/{self.checkout.token}/payment":
            details = self.checkout.hand_out_details()
            if details is None:
                self._answer(410, b"Gone")
            else:
                self._answer(200, details.encode("utf-8"), "application/json")
        elif self.path == f"/{self.checkout.token}/outcome":
            self.checkout.heard(body)
            self._answer(204)
        else:
            self._answer(404, b"Not found")
