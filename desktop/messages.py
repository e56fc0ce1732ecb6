"""Errors as one clear sentence for the user; the traceback goes to the log, never to the screen."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from core.dmd.errors import DmdError
from core.errors import RxDeskError

log = logging.getLogger(__name__)


def error_text(error: BaseException) -> str:
    if isinstance(error, DmdError | RxDeskError):  # written for the user already
        return str(error)
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return _sentence(f"{error.strerror or error}{where}")
    return f"Something went wrong that RxDesk did not expect ({error.__class__.__name__}: {error})."


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def show_error(parent: QWidget | None, what_failed: str, error: BaseException) -> None:
    """``what_failed`` is the first line, e.g. "The medicines catalogue could not be prepared."."""
    if isinstance(error, DmdError | RxDeskError | OSError):  # expected: the message says it all
        log.error("%s %s", what_failed, error_text(error))
    else:
        log.error("%s", what_failed, exc_info=error)
    box = QMessageBox(QMessageBox.Icon.Critical, "RxDesk", what_failed, QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText(error_text(error))
    box.setObjectName("errorBox")
    if parent is not None and parent.isVisible():
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, does not block the event loop
    else:
        box.exec()
