"""The application's icons: SVGs in resources/icons/, drawn by Qt at whatever size and pixel ratio the screen
asks for (sharp on high-DPI displays)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from core import paths

ICONS = paths.RESOURCES / "icons"


@cache
def icon(name: str) -> QIcon:
    """``name`` is a file in resources/icons without ``.svg``; a missing file is an error in RxDesk, not the user's."""
    path = ICONS / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(path)
    return QIcon(str(path))
