"""An on-screen keypad for PINs, for touch screens: 0-9, Delete, Clear and OK, typing into a masked field.

``PinPad(field)`` types into a field the caller already has (the sign-in window's password-or-PIN box);
``PinPad()`` shows its own masked field (``pad.field``). The keys never take the focus, so the field keeps it:
a physical keyboard and a barcode scanner go on working beside the keypad. ``submitted(text)`` is emitted on OK
(and on Enter in the field); the caller checks the PIN (off the UI thread: argon2 is slow by design).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

DIGITS = "1234567890"
DELETE, CLEAR, OK = "delete", "clear", "ok"
KEY_SIZE = 64  # px: above the 44 px a fingertip needs, with room to spare
_LAYOUT = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"), (CLEAR, "0", DELETE))
_LABELS = {DELETE: "⌫", CLEAR: "Clear", OK: "OK"}
_NAMES = {DELETE: "Delete the last digit", CLEAR: "Clear the PIN", OK: "OK"}


class PinPad(QWidget):
    submitted = Signal(str)  # the field's text, when OK is pressed

    def __init__(self, field: QLineEdit | None = None, parent: QWidget | None = None, *, ok_text: str = "OK") -> None:
        super().__init__(parent)
        self.setObjectName("pinPad")
        self.setAccessibleName("PIN keypad")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.own_field = field is None
        if field is None:
            field = QLineEdit()
            field.setObjectName("pinField")
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.setAccessibleName("PIN")
            field.setPlaceholderText("PIN")
            field.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(field)
        self.field = field
        grid = QGridLayout()
        grid.setSpacing(8)
        self.keys: dict[str, QPushButton] = {}
        for row, keys in enumerate(_LAYOUT):
            for column, key in enumerate(keys):
                grid.addWidget(self._key(key, _LABELS.get(key, key)), row, column)
        grid.addWidget(self._key(OK, ok_text), len(_LAYOUT), 0, 1, 3)
        layout.addLayout(grid)
        if self.own_field:
            field.returnPressed.connect(lambda: self.press(OK))

    def _key(self, key: str, label: str) -> QPushButton:
        button = QPushButton(label)
        button.setObjectName("pinOk" if key == OK else "pinKey")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the field keeps the focus (keyboard, scanner)
        button.setAccessibleName(_NAMES.get(key, f"Digit {key}"))
        button.setMinimumSize(KEY_SIZE, KEY_SIZE)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setAutoRepeat(key == DELETE)
        button.clicked.connect(lambda _checked=False, k=key: self.press(k))
        self.keys[key] = button
        return button

    def press(self, key: str) -> None:
        """What a tap on a key does: a digit is typed at the cursor; delete, clear or ok."""
        if key in DIGITS and len(key) == 1:
            self.field.insert(key)
        elif key == DELETE:
            self.field.backspace()
        elif key == CLEAR:
            self.field.clear()
        elif key == OK:
            self.submitted.emit(self.field.text())
        else:
            raise ValueError(f"No key {key!r} on the keypad.")

    def pin(self) -> str:
        return self.field.text()

    def clear(self) -> None:
        self.field.clear()
