"""Admin → Audit log: the newest events, filtered as you type, each one's before and after; and the hash chain
verified end to end (off the UI thread: a busy pharmacy writes hundreds of thousands of events a year)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.audit.log import ChainReport
from core.audit.viewer import DEFAULT_LIMIT, AuditRow, recent_events, verify_audit_log
from core.context import ServiceContext
from core.documents.formatting import format_uk_datetime
from core.errors import RxDeskError
from desktop.message_line import MessageLine
from desktop.messages import error_text
from desktop.operation import Operation

COLUMNS = ("No.", "When", "Who", "Workstation", "Action", "Record", "Record id")
FILTER_DELAY_MS = 200


def _pretty(value: dict[str, Any] | None) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) if value else "(nothing)"


class AuditPanel(QWidget):
    def __init__(self, ctx: ServiceContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("adminAudit")
        self.rows: list[AuditRow] = []
        self.last_report: ChainReport | None = None

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by action, record, workstation or person, e.g. override")
        self.filter.setAccessibleName("Filter the audit log")
        self.filter.setClearButtonEnabled(True)
        self.verify_button = QPushButton("Verify the chain")
        self.verify_button.setToolTip("Check that no event was changed or removed after it was written")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setAccessibleName("Audit events, newest first")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("The selected event's details")
        self.summary = QLabel()
        self.message = MessageLine()

        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.verify_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setSizes([520, 200])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.message)
        QWidget.setTabOrder(self.filter, self.verify_button)
        QWidget.setTabOrder(self.verify_button, self.table)
        QWidget.setTabOrder(self.table, self.detail)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.refresh)
        self.filter.textChanged.connect(self._filter_timer.start)
        self.table.itemSelectionChanged.connect(self._show_detail)
        self.verify_button.clicked.connect(self.verify)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()  # every action anywhere adds events
        super().showEvent(event)

    def refresh(self) -> None:
        self._filter_timer.stop()
        text = self.filter.text()
        try:
            self.rows = recent_events(self.ctx, text)
        except RxDeskError as exc:
            self.message.say(str(exc), failed=True)
            return
        self.table.setRowCount(len(self.rows))
        for row, event in enumerate(self.rows):
            cells = (
                str(event.seq),
                format_uk_datetime(event.occurred_at),
                event.user_name,
                event.workstation,
                event.action,
                event.entity_type,
                event.entity_id,
            )
            for column, value in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(value))
        shown = f"{len(self.rows):,} events" + (f" matching “{text.strip()}”" if text.strip() else "")
        limit = f" (the newest {DEFAULT_LIMIT:,}; filter to find older ones)" if len(self.rows) >= DEFAULT_LIMIT else ""
        self.summary.setText(shown + limit)
        self.detail.clear()

    def _show_detail(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            self.detail.clear()
            return
        event = self.rows[rows[0].row()]
        self.detail.setPlainText(f"Before:\n{_pretty(event.before)}\n\nAfter:\n{_pretty(event.after)}")

    def verify(self) -> Operation:
        ctx = self.ctx
        operation = Operation(lambda _report: verify_audit_log(ctx))
        operation.succeeded.connect(self._verified)
        operation.failed.connect(
            lambda error: self.message.say(f"The audit log could not be checked: {error_text(error)}", failed=True)
        )
        operation.finished.connect(lambda: self.verify_button.setEnabled(True))
        self.verify_button.setEnabled(False)
        self.message.say("Verifying every event…")
        return operation.start()

    def _verified(self, report: ChainReport) -> None:
        self.last_report = report
        if report.intact:
            self.message.say(f"The audit log is intact: {report.events:,} events, every link verified.")
        else:
            self.message.say(
                f"The audit log has been tampered with: {report.problem}. Keep this computer as it is and "
                "tell your information governance lead.",
                failed=True,
            )
