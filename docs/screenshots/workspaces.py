"""Screenshots of the application as users see it, on a real X display (Xvfb): ``make screenshots``.

    python docs/screenshots/workspaces.py DATA_DIR OUT_DIR [NAME ...]

Starts RxDesk as ``rxdesk`` does on a fresh data folder (demo installation, demo catalogue), signs in as each
demo user and drives one workspace per picture, then saves the window. NAME picks some of the pictures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from core.demo import DEMO_PASSWORD
from core.patients.allergies import record_allergy
from core.patients.search import search_patients
from desktop.app import Gui, start_gui
from desktop.main_window import MainWindow
from desktop.prescribe_panel import PrescribePanel

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
    wait_until(lambda: gui.catalogue.catalogue is not None)  # the first start builds the demo catalogue
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


PICTURES: dict[str, Callable[[Gui, Path], None]] = {
    "sign-in": sign_in_screen,
    "prescribe": prescribe,
}


def main() -> int:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    wanted = sys.argv[3:] or list(PICTURES)
    app = QApplication(["rxdesk"])
    gui = start_gui(app, data)
    if gui is None:
        return 1
    gui.sign_in_window.show()
    wait(500)
    for name in wanted:
        PICTURES[name](gui, out)
        wait_until(lambda: gui.sign_in_window.isVisible())
    gui.database.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
