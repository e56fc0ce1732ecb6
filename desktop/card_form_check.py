"""``rxdesk --check-card-form``: can this installation show the embedded card form? (installers, support, and
``make dist-check``, which runs it in the frozen app)

Starts Qt WebEngine as the top-up dialog does (desktop.payment_page), shows RxDesk's payment page in it and asks
the page, in its own JavaScript, whether its card form's place and the channel back to the app are there. Prints
one line and exits 0 when they are, else 1 with the reason on stderr (then the dialog offers "Open in browser" instead).
Nothing is paid and no server is asked: Stripe.js itself is not loaded.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtWidgets import QApplication

from desktop.payment_page import PAGE_BASE, checkout_html, prepare_web_engine, web_engine_available

TIMEOUT_MS = 60_000
PROBE = "document.querySelector('#card-element') !== null && typeof qt === 'object' && !!qt.webChannelTransport"


def check_card_form() -> int:
    prepare_web_engine()
    app = QApplication.instance() or QApplication(sys.argv[:1] or ["rxdesk"])
    if not web_engine_available():
        print("rxdesk: card form: Qt WebEngine is not part of this installation (top-ups open in the web browser)",
              file=sys.stderr)  # fmt: skip
        return 1
    from desktop.payment_page import EmbeddedCheckout

    result: dict[str, str] = {}

    def finish(outcome: str) -> None:
        result.setdefault("outcome", outcome)
        app.exit(0)

    def loaded(ok: bool) -> None:
        if not ok:
            finish("the payment page did not load in Qt WebEngine")
            return
        checkout.page.runJavaScript(
            PROBE, 0, lambda found: finish("ok" if found is True else "the page's card form or channel is missing")
        )

    checkout = EmbeddedCheckout()
    checkout.resize(640, 480)
    checkout.page.loadFinished.connect(loaded)
    checkout.broken.connect(finish)
    checkout.show()
    checkout.page.setHtml(checkout_html(), QUrl(PAGE_BASE))
    QTimer.singleShot(TIMEOUT_MS, lambda: finish(f"nothing rendered in {TIMEOUT_MS // 1000} s"))
    app.exec()
    outcome = result.get("outcome", "Qt WebEngine stopped")
    checkout.close()
    if outcome == "ok":
        print("card form: Qt WebEngine showed RxDesk's payment page, its card form's place and the channel to the app")
        return 0
    print(f"rxdesk: card form: {outcome} (top-ups open in the web browser instead)", file=sys.stderr)
    return 1
