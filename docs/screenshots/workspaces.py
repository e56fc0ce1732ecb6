"""Screenshots of the application as users see it, on a real X display (Xvfb): ``make screenshots``.

    python docs/screenshots/workspaces.py DATA_DIR OUT_DIR [NAME ...]

Starts RxDesk as ``rxdesk`` does on a fresh data folder (demo installation, demo catalogue), signs in as each
demo user and drives one workspace per picture, then saves the window. NAME picks some of the pictures; ``kiosk``
alone starts the app as ``rxdesk --kiosk`` does. ``sync`` signs the installation in to a stand-in Appwrite server
(tests/fakes/appwrite, on 127.0.0.1, with the session in a keyring kept in memory) and makes a conflict for the
inbox with a second workstation of the same organisation. ``top-up`` connects it to another stand-in running the
billing function against localstripe (on 127.0.0.1), and shows Admin → Tokens → Top up by card with its card form.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from core.context import ServiceContext
from core.demo import DEMO_PASSWORD, DEMO_PIN
from core.dmd.catalogue import Catalogue
from core.patients.allergies import record_allergy
from core.patients.records import PatientDetails, get_patient, update_patient
from core.patients.search import search_patients
from core.prescriptions.drafting import add_item, create_prescription
from core.prescriptions.signing import sign_prescription
from core.users.service import sign_in as core_sign_in
from desktop.admin_workspace import AdminWorkspace
from desktop.app import Gui, start_gui
from desktop.catalogue_window import CatalogueWindow
from desktop.counter_workspace import CounterWorkspace
from desktop.main_window import MainWindow
from desktop.patients_panel import PatientsPanel
from desktop.payment_page import prepare_web_engine
from desktop.prescribe_panel import PrescribePanel
from sync.appwrite_api import install_timeouts
from sync.engine import SyncState

SIZE = (1280, 800)


def wait(ms: int = 300) -> None:
    QTest.qWait(ms)


def wait_until(condition: Callable[[], bool], timeout_ms: int = 20000) -> None:
    waited = 0
    while not condition():
        if waited > timeout_ms:
            raise TimeoutError("the window did not get there in time")
        wait(50)
        waited += 50


def sign_in(gui: Gui, username: str) -> MainWindow:
    window = gui.sign_in_window
    window.username.setText(username)
    window.secret.setText(DEMO_PASSWORD)
    window.submit()
    wait_until(lambda: gui.session is not None)
    session = gui.session
    assert session is not None
    session.resize(*SIZE)
    wait_until(lambda: gui.catalogue.catalogue is not None, 180_000)  # the first start builds the demo catalogue
    return session


def save(widget: QWidget, out: Path) -> None:
    wait(400)
    widget.grab().save(str(out))
    print("saved", out)


def sign_in_screen(gui: Gui, out: Path) -> None:
    gui.sign_in_window.resize(520, 520)
    save(gui.sign_in_window, out / "sign-in.png")


def prescribe(gui: Gui, out: Path) -> None:
    session = sign_in(gui, "doctor")
    panel = session.workspace("Prescribe")
    assert isinstance(panel, PrescribePanel)
    session.tabs.setCurrentWidget(panel)
    # An intolerance on file, so the checks have something to say about the amoxicillin.
    catalogue = gui.catalogue.catalogue
    assert catalogue is not None
    [alice] = search_patients(session.ctx, "jones")
    [(isid,)] = catalogue.conn.execute("SELECT isid FROM ing WHERE nm = 'Amoxicillin trihydrate'").fetchall()
    record_allergy(session.ctx, alice.id, catalogue, isid, "intolerance", "diarrhoea", "moderate")
    QTest.keyClicks(panel.patient_box, "jones", delay=20)
    panel.search_patients_now()
    panel._pick_first_patient()
    for query, frequency in (("amoxicillin 500", "three times a day"), ("morphine sulfate 10mg", "twice a day")):
        QTest.keyClicks(panel.medicine_box, query, delay=30)
        wait_until(lambda: panel.medicine_results.count() > 0)
        wait(200)
        panel._pick_first_medicine()
        panel.editor.frequency.setCurrentText(frequency)
        panel.editor.days.setValue(7)
        if query.startswith("amox"):
            panel.editor.add_button.click()
    wait_until(lambda: panel.quote is not None or panel.rx is None)
    save(session, out / "prescribe.png")
    panel.editor.add_button.click()
    panel.wait_for_checks()
    wait_until(lambda: panel.quote is not None)
    save(session, out / "prescribe-checks.png")
    session.sign_out()


def _sign_for_bilal(ctx: ServiceContext, catalogue: Catalogue) -> str:
    """A prescription for Bilal Khan: two packable items, one with a barcode."""
    [bilal] = search_patients(ctx, "khan")
    rx = create_prescription(ctx, bilal.id)
    for query, dose in (("amoxicillin 500", "1 three times a day"), ("omeprazole 20", "1 daily")):
        hit = next(h for h in catalogue.search(query) if h.type == "vmp")
        add_item(ctx, catalogue, rx.id, str(hit.id), dose=dose, directions=dose.capitalize(), quantity=21,
                 days_supply=7)  # fmt: skip
    sign_prescription(ctx, catalogue, rx.id, DEMO_PIN)
    return rx.id


def _signed_for_counter(gui: Gui) -> str:
    """Signed by the demo doctor, signed in through the window."""
    session = sign_in(gui, "doctor")
    catalogue = gui.catalogue.catalogue
    assert catalogue is not None
    rx_id = _sign_for_bilal(session.ctx, catalogue)
    session.sign_out()
    wait_until(lambda: gui.sign_in_window.isVisible())
    return rx_id


def counter(gui: Gui, out: Path) -> None:
    rx_id = _signed_for_counter(gui)
    session = sign_in(gui, "pharmacist")
    workspace = session.workspace("Counter")
    assert isinstance(workspace, CounterWorkspace)
    session.tabs.setCurrentWidget(workspace)
    panel = workspace.counter
    panel.refresh_queue()
    save(session, out / "counter-queue.png")
    panel.scanned(rx_id)
    catalogue = gui.catalogue.catalogue
    assert catalogue is not None and panel.prescription is not None
    item = panel.prescription.items[0]
    [(gtin,)] = catalogue.conn.execute(
        "SELECT g.gtin FROM gtin g JOIN ampp ap ON ap.appid = g.amppid JOIN amp a ON a.apid = ap.apid "
        "WHERE a.vpid = ? AND g.enddt IS NULL LIMIT 1",
        (int(item.vmp_id),),
    ).fetchall()
    panel.scanned(str(gtin))
    save(session, out / "counter-dispense.png")
    workspace.show_cd_register()
    save(session, out / "counter-cd-register.png")
    session.sign_out()


def patients(gui: Gui, out: Path) -> None:
    session = sign_in(gui, "doctor")
    panel = session.workspace("Patients")
    assert isinstance(panel, PatientsPanel)
    session.tabs.setCurrentWidget(panel)
    QTest.keyClicks(panel.search_box, "leeds", delay=20)
    panel.search_now()
    [alice] = search_patients(session.ctx, "jones")
    panel.show_patient(alice.id)
    save(session, out / "patients.png")
    session.sign_out()


def medicines(gui: Gui, out: Path) -> None:
    session = sign_in(gui, "technician")
    catalogue = session.workspace("Medicines")
    assert isinstance(catalogue, CatalogueWindow)
    session.tabs.setCurrentWidget(catalogue)
    QTest.keyClicks(catalogue.search_box, "morphine oral", delay=30)
    catalogue.wait_for_search()
    wait(300)
    catalogue.results.setCurrentIndex(catalogue.results.model().index(1, 0))
    save(session, out / "medicines.png")
    session.sign_out()


def admin(gui: Gui, out: Path) -> None:
    session = sign_in(gui, "admin")
    workspace = session.workspace("Admin")
    assert isinstance(workspace, AdminWorkspace)
    session.tabs.setCurrentWidget(workspace)
    workspace.users.select_user("doctor")
    save(session, out / "admin-users.png")
    assert workspace.tokens is not None and workspace.catalogue is not None and workspace.audit is not None
    workspace.setCurrentWidget(workspace.tokens)
    save(session, out / "admin-tokens.png")
    workspace.setCurrentWidget(workspace.catalogue)
    wait_until(lambda: workspace.catalogue is not None and workspace.catalogue.counts.rowCount() > 0)
    save(session, out / "admin-catalogue.png")
    workspace.setCurrentWidget(workspace.audit)
    operation = workspace.audit.verify()
    done: list[bool] = []
    operation.finished.connect(lambda: done.append(True))
    wait_until(lambda: bool(done))
    workspace.audit.table.selectRow(0)
    save(session, out / "admin-audit.png")
    session.sign_out()


def _synced(gui: Gui, inbox: int | None = None) -> bool:
    status = gui.sync.status
    if status is None or status.state is not SyncState.UP_TO_DATE or status.pending:
        return False
    return inbox is None or status.inbox == inbox


def sync(gui: Gui, out: Path) -> None:
    """Admin → Sync: the workstation signed in (through the dialog) to a stand-in server, one conflict in the inbox."""
    import keyring

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: its tests/ holds the stand-in
    from tests.fakes.appwrite import AppwriteStandin
    from tests.fakes.memory_keyring import MemoryKeyring
    from tests.sync_world import ACCOUNT_PASSWORD, world

    keyring.set_keyring(MemoryKeyring())  # Xvfb has no keyring service; this one is gone when the script ends
    # A busy build machine can take longer than Appwrite's 30 s (and the SDK's 45 s wait) over the first batch of the
    # installation's changes: sync retries it, but that error is not what this picture is of.
    install_timeouts(read_s=300)
    server = AppwriteStandin(rate_limits=False, sync_timeout=300).start()
    try:
        riverside = world(server, Path(tempfile.mkdtemp(prefix="rxdesk-sync-shots-")))
        email = "alex.admin@riverside.example"
        riverside.account(email)
        session = sign_in(gui, "admin")
        workspace = session.workspace("Admin")
        assert isinstance(workspace, AdminWorkspace)
        session.tabs.setCurrentWidget(workspace)
        panel = workspace.sync
        workspace.setCurrentWidget(panel)
        dialog = panel.sign_in()
        assert dialog is not None
        for field, text in ((dialog.endpoint, server.endpoint), (dialog.project, server.project_id),
                            (dialog.email, email), (dialog.password, ACCOUNT_PASSWORD)):  # fmt: skip
            field.setText(text)
        dialog.submit()
        wait_until(lambda: not dialog.isVisible())
        wait_until(lambda: _synced(gui), 120_000)
        # The demo's opening credit was made here, and the server takes credits only from payments: seen, dismissed.
        wait_until(lambda: panel.inbox.rowCount() == (gui.sync.status.inbox if gui.sync.status else -1))
        while panel.inbox.rowCount():
            panel.inbox.selectRow(0)
            panel.dismiss_button.click()
        # Reception, another workstation of the organisation, changes Alice Jones's phone number first...
        reception = riverside.device("reception")
        reception.sync()
        [alice] = search_patients(session.ctx, "jones")
        with reception.database.reader() as db:
            theirs = PatientDetails.of(get_patient(db, alice.id))
        update_patient(reception.sign_in("reception-admin"), alice.id, replace(theirs, phone="0113 496 0222"))
        reception.sync()
        # ...and this workstation changes it too before hearing of that: the server keeps the first.
        with gui.database.reader() as db:
            mine = PatientDetails.of(get_patient(db, alice.id))
        update_patient(session.ctx, alice.id, replace(mine, phone="0113 496 0333", email="alice.jones@example.org"))
        panel.sync_button.click()
        wait_until(lambda: _synced(gui, inbox=1), 60_000)
        wait_until(lambda: panel.inbox.rowCount() == 1)
        panel.inbox.selectRow(0)
        save(session, out / "admin-sync.png")
        session.sign_out()
    finally:
        gui.sync.stop()  # before the server goes
        server.close()


def top_up(gui: Gui, out: Path) -> None:
    """Admin → Tokens → Top up by card: the card form (localstripe's fake Stripe.js: plain fields where Stripe's
    own is a frame) before paying. A stand-in server runs the real billing function against localstripe."""
    import secrets

    import keyring

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: its tests/ holds the stand-ins
    from sync.connection import sign_in as server_sign_in
    from sync.engine import SyncEngine
    from tests.fakes.appwrite import AppwriteStandin
    from tests.fakes.localstripe_server import LocalStripe
    from tests.fakes.memory_keyring import MemoryKeyring
    from tests.sync_world import ACCOUNT_PASSWORD, world

    keyring.set_keyring(MemoryKeyring())
    install_timeouts(read_s=300)
    folder = Path(tempfile.mkdtemp(prefix="rxdesk-top-up-shots-"))
    server = AppwriteStandin(rate_limits=False, sync_timeout=300).start()
    stripe = LocalStripe(folder / "localstripe.pickle").start()
    try:
        riverside = world(server, folder)
        email = "alex.admin@riverside.example"
        riverside.account(email)
        server.set_function_variables(
            "billing",
            {
                "STRIPE_SECRET_KEY": stripe.secret_key,
                "STRIPE_PUBLISHABLE_KEY": stripe.publishable_key,
                "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
                "STRIPE_API_BASE": stripe.api_base,
                "STRIPE_JS_URL": stripe.js_url,
            },
        )
        server_sign_in(gui.database, server.endpoint, server.project_id, email, ACCOUNT_PASSWORD)
        SyncEngine(gui.database).sync_now()  # the demo's clinic and its pool reach the server
        session = sign_in(gui, "admin")
        workspace = session.workspace("Admin")
        assert isinstance(workspace, AdminWorkspace) and workspace.tokens is not None
        session.tabs.setCurrentWidget(workspace)
        panel = workspace.tokens
        workspace.setCurrentWidget(panel)
        pools = [row for row, account in enumerate(panel.accounts) if account.owner_kind == "organisation"]
        panel.account_table.selectRow(pools[0])
        dialog = panel.top_up()
        assert dialog is not None
        dialog.resize(720, 560)
        wait_until(lambda: dialog.continue_button.isEnabled(), 60_000)
        dialog.choose_pack("medium")
        dialog.continue_button.click()
        wait_until(lambda: "ready" in [o.outcome for o in dialog.outcomes], 60_000)
        checkout = dialog.embedded
        assert checkout is not None
        typed = {"number": "4242424242424242", "exp_month": "12", "exp_year": "34", "cvc": "123", "postal_code": "LS1"}
        for field, value in typed.items():
            checkout.page.runJavaScript(
                f"document.querySelector('#card-element input[placeholder={field}]').value = '{value}'"
            )
        save(dialog, out / "top-up.png")
        dialog.close()
        session.sign_out()
    finally:
        gui.sync.stop()
        stripe.stop()
        server.close()


def kiosk(gui: Gui, out: Path) -> None:
    """Needs a kiosk start (main() does one when this is the only picture asked for)."""
    window = gui.kiosk_window
    assert window is not None
    window.resize(*SIZE)
    wait_until(lambda: gui.catalogue.catalogue is not None, 180_000)
    save(window, out / "kiosk-sign-in.png")
    doctor = core_sign_in(gui.database, "doctor", DEMO_PASSWORD, gui.sign_in_window.workstation)
    _sign_for_bilal(doctor, gui.catalogue.catalogue)  # at a clinic workstation, for the queue
    gui.sign_in_window.username.setText("pharmacist")
    gui.sign_in_window.secret.setText(DEMO_PASSWORD)
    gui.sign_in_window.submit()
    wait_until(lambda: window.ctx is not None)
    save(window, out / "kiosk.png")
    window.sign_out()


PICTURES: dict[str, Callable[[Gui, Path], None]] = {
    "sign-in": sign_in_screen,
    "prescribe": prescribe,
    "counter": counter,
    "patients": patients,
    "medicines": medicines,
    "admin": admin,
    "sync": sync,  # last of all but the top-up: it connects the installation to a server
    "top-up": top_up,  # connects it to another (with localstripe for the card)
}
KIOSK_PICTURES: dict[str, Callable[[Gui, Path], None]] = {"kiosk": kiosk}


def main() -> int:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    wanted = sys.argv[3:] or list(PICTURES)
    in_kiosk = wanted == list(KIOSK_PICTURES)
    prepare_web_engine()  # as the app does before its QApplication (the top-up's card form)
    app = QApplication(["rxdesk"])
    gui = start_gui(app, data, kiosk=in_kiosk)
    if gui is None:
        return 1
    if not in_kiosk:
        gui.sign_in_window.show()
    wait(500)
    sys.excepthook = sys.__excepthook__  # a failing picture shows its traceback (the app's hook would hide it)
    for name in wanted:
        {**PICTURES, **KIOSK_PICTURES}[name](gui, out)
        wait_until(lambda: gui.sign_in_window.isVisible())
    gui.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
