"""This workstation's user-interface preferences (which printer prints which document): Qt's QSettings.

Preferences of the screen and the desk, not records: they stay on this computer, are never audited or synced, and
losing them costs a click. Kept in an INI file in the OS's per-user configuration folder; tests point that folder at
a temporary one (``QSettings.setPath``), so they never touch the user's.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from core.paths import APP_NAME


def ui_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, "workstation")
