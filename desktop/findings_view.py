"""The core's findings about the prescription being written, shown as it is built: blocks, warnings, all clear.

A block must be fixed (change or remove the item). A warning may be signed past only with a typed reason: "Give a
reason…" asks for it, and the reason is sent with the signing, which keeps and audits it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.rules.model import MIN_OVERRIDE_REASON, Outcome, RuleResult

MARKS = {Outcome.BLOCK: "⛔", Outcome.WARN: "⚠", Outcome.ALLOW: "✓"}


def ask_override_reason(parent: QWidget, finding: RuleResult) -> str | None:
    text, ok = QInputDialog.getText(
        parent, "RxDesk: reason to go ahead", f"{finding.message}\n\nWhy is it right to prescribe this anyway?"
    )
    return text.strip() if ok else None


class FindingsView(QFrame):
    """One row per finding; ``reasons`` (rule key → typed reason) is what signing will send."""

    changed = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        ask: Callable[[QWidget, RuleResult], str | None] = ask_override_reason,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("findings")
        self.ask = ask
        self.results: list[RuleResult] = []
        self.reasons: dict[str, str] = {}
        self.problem = ""  # about the last reason typed, shown above the findings
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 8, 10, 8)
        self._layout.setSpacing(6)
        self.setAccessibleName("Checks of the prescription")
        self.show_results([])

    @property
    def blocked(self) -> bool:
        return any(r.outcome is Outcome.BLOCK for r in self.results)

    def unanswered(self) -> list[RuleResult]:
        """Warnings still without a reason."""
        return [r for r in self.results if r.outcome is Outcome.WARN and r.key not in self.reasons]

    def show_results(self, results: list[RuleResult], *, checked: bool = True) -> None:
        self.results = list(results)
        # Reasons stay with their finding while it is still found; a finding that went away takes its reason along.
        keys = {r.key for r in results}
        self.reasons = {k: v for k, v in self.reasons.items() if k in keys}
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()
        shown = [r for r in results if r.outcome is not Outcome.ALLOW]
        if self.problem:
            note = QLabel(self.problem)
            note.setObjectName("findingProblem")
            note.setWordWrap(True)
            self._layout.addWidget(note)
        if not shown:
            text = "✓ No problems found." if checked else "Add a medicine: each is checked as you go."
            self._layout.addWidget(self._row(Outcome.ALLOW, text, None))
        for result in sorted(shown, key=lambda r: r.outcome is not Outcome.BLOCK):
            self._layout.addWidget(self._row(result.outcome, result.message, result))
        self.changed.emit()

    def _row(self, outcome: Outcome, text: str, result: RuleResult | None) -> QWidget:
        row = QWidget()
        row.setObjectName("finding")
        row.setProperty("outcome", outcome.value)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(f"{MARKS[outcome]} {text}" if result is not None else text)
        label.setWordWrap(True)
        label.setObjectName("findingText")
        label.setProperty("outcome", outcome.value)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(label, 1)
        if result is not None and result.outcome is Outcome.WARN:
            reason = self.reasons.get(result.key)
            if reason:
                given = QLabel(f"Reason: {reason}")
                given.setObjectName("findingReason")
                given.setWordWrap(True)
                layout.addWidget(given)
            button = QPushButton("Change reason…" if reason else "Give a reason…")
            button.setAccessibleName(f"Reason to go ahead: {result.message}")
            button.clicked.connect(lambda _checked=False, r=result: self.ask_reason(r))
            layout.addWidget(button, alignment=Qt.AlignmentFlag.AlignTop)
        return row

    def ask_reason(self, result: RuleResult) -> None:
        reason = self.ask(self, result)
        if reason is None:
            return
        if len(reason) < MIN_OVERRIDE_REASON:
            self.problem = f"A reason says why, in at least {MIN_OVERRIDE_REASON} characters: it is kept and audited."
            self.reasons.pop(result.key, None)
        else:
            self.problem = ""
            self.reasons[result.key] = reason
        self.show_results(self.results)

    def reasons_for_signing(self) -> Mapping[str, str]:
        return dict(self.reasons)
