"""``rxdesk --check-start``: start exactly as a user's start does, say whether it worked, then quit.

For installers, support and the packaging check (``make dist-check``): is this build, on this machine, able to
show its sign-in window and open its medicines catalogue? The start is the ordinary one (``desktop.app.run_gui``:
the same data folder, the demo installation and the catalogue built from the bundled release on a first start);
the check only watches it:

- the sign-in window (the kiosk window with ``--kiosk``) has been shown and painted: one line on stdout;
- the catalogue is ready (built first if this start had to build it): one line on stdout, then exit 0;
- an error the start would show the user (any error dialog), a catalogue that cannot be opened, or neither window
  nor catalogue within the time allowed: one line on stderr, exit 1.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop.app_filters import install_app_filter, remove_app_filter

if TYPE_CHECKING:
    from desktop.app import Gui

EXIT_FAILED = 1
# Long enough for a full-size catalogue to be rebuilt from a kept release on a slow workstation.
DEFAULT_TIMEOUT_S = 300.0


class StartCheck(QObject):
    """Watches one start of the GUI; ``result`` is None until it has passed (0) or failed (1)."""

    def __init__(self, app: QApplication, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(app)
        self.app = app
        self.result: int | None = None
        self.window: QWidget | None = None
        self.painted = False
        self.gui: Gui | None = None
        self._timeout_s = timeout_s
        install_app_filter(self)  # before the start: an error dialog during it fails the check
        QTimer.singleShot(round(timeout_s * 1000), self._timed_out)

    def watch(self, gui: Gui) -> None:
        """The start got as far as its windows: wait for the first one to be painted and for the catalogue."""
        self.gui = gui
        self.window = gui.start_window
        if gui.catalogue_preparation is not None:
            gui.catalogue_preparation.finished.connect(self._evaluate)
        self.window.update()  # a paint after this point, whatever the start may have painted already

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            kind == QEvent.Type.Show
            and isinstance(watched, QMessageBox)
            and watched.icon() == QMessageBox.Icon.Critical
        ):
            self._fail(" ".join(f"{watched.text()} {watched.informativeText()}".split()))
        elif (
            kind == QEvent.Type.Paint
            and not self.painted
            and self.window is not None
            and isinstance(watched, QWidget)
            and watched.window() is self.window
        ):
            self.painted = True
            QTimer.singleShot(0, self._window_painted)  # once this paint has been drawn and flushed
        return False

    def _window_painted(self) -> None:
        if self.result is not None or self.window is None:
            return
        handle = self.window.windowHandle()
        if not self.window.isVisible() or handle is None or not handle.isExposed():
            self._fail("the sign-in window was painted but is not on the screen")
            return
        size = self.window.size()
        _say(f'the sign-in window "{self.window.windowTitle()}" ({size.width()}×{size.height()}) is shown and painted.')
        self._evaluate()

    def _evaluate(self) -> None:
        gui = self.gui
        if self.result is not None or not self.painted or gui is None or gui.catalogue_preparation is not None:
            return
        catalogue = gui.catalogue.catalogue
        if catalogue is None:
            self._fail(gui.catalogue.catalogue_error or "the medicines catalogue is not available")
            return
        try:
            name = catalogue.release().name
        except Exception as exc:  # reported as one line, like every other failure
            self._fail(f"the medicines catalogue cannot be read ({exc.__class__.__name__}: {exc})")
            return
        _say(f"the medicines catalogue {name} is ready.")
        self._finish(0)

    def _timed_out(self) -> None:
        if self.result is not None:
            return
        what = "the sign-in window was not painted" if not self.painted else "the medicines catalogue was not ready"
        self._fail(f"{what} within {self._timeout_s:g} s")

    def _fail(self, reason: str) -> None:
        if self.result is not None:
            return
        if sys.stderr is not None:
            print(f"rxdesk: start check failed: {reason}", file=sys.stderr, flush=True)
        self._finish(EXIT_FAILED)

    def _finish(self, result: int) -> None:
        self.result = result
        remove_app_filter(self)
        self.app.exit(result)  # every event loop, an error dialog's too


def _say(text: str) -> None:
    if sys.stdout is not None:  # a windowed build on Windows has no stdout
        print(f"rxdesk: start check: {text}", flush=True)
