"""Asking for the prescriber's PIN again before signing: a small modal dialog, the PIN never shown."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget


class PinDialog(QDialog):
    def __init__(self, parent: QWidget | None, prompt: str) -> None:
        super().__init__(parent)
        self.setObjectName("pinDialog")
        self.setWindowTitle("RxDesk: sign")
        text = QLabel(prompt)
        text.setWordWrap(True)
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setAccessibleName("Your signing PIN")
        self.pin.setPlaceholderText("PIN")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Sign")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.pin)
        layout.addWidget(buttons)
        self.pin.setFocus()


def ask_pin(parent: QWidget, prompt: str) -> str | None:
    """The PIN typed, or None if the prescriber cancelled."""
    dialog = PinDialog(parent, prompt)
    return dialog.pin.text() if dialog.exec() == QDialog.DialogCode.Accepted and dialog.pin.text() else None
