"""The search results table: a Qt model over result rows and a delegate that draws the type badge."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

Index = QModelIndex | QPersistentModelIndex

KIND_LABELS = {"vtm": "VTM", "vmp": "VMP", "amp": "AMP", "vmpp": "VMPP", "ampp": "AMPP"}
KIND_HELP = {
    "vtm": "Virtual therapeutic moiety: the substance, e.g. Pilocarpine",
    "vmp": "Virtual medicinal product: the generic medicine with strength and form",
    "amp": "Actual medicinal product: a supplier's product",
    "vmpp": "Virtual medicinal product pack: a generic pack size",
    "ampp": "Actual medicinal product pack: a supplier's pack, with price and barcode",
}
KIND_COLOURS = {
    "vtm": "#6b4fa0",
    "vmp": "#1d5fbf",
    "amp": "#0b7a6e",
    "vmpp": "#4f79b8",
    "ampp": "#3a8a3a",
}
HIDDEN_TEXT = QColor("#8a96a3")
STATUS_TEXT = QColor("#b42318")
MATCH_TEXT = QColor("#0b6b3a")
OLD_MATCH_TEXT = QColor("#b54708")

COLUMNS = ("Type", "Name", "Status")
TYPE_COLUMN, NAME_COLUMN, STATUS_COLUMN = range(3)
KindRole = Qt.ItemDataRole.UserRole + 1
IdRole = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class ResultRow:
    id: int
    kind: str  # vtm, vmp, amp, vmpp, ampp
    name: str
    status: str | None = None  # why it is hidden by default: invalid, discontinued, unavailable
    match: str | None = None  # how it matched, when not by name, e.g. "barcode match"
    match_is_old: bool = False  # matched on something no longer current, e.g. an end-dated barcode

    @property
    def status_text(self) -> str:
        return " · ".join(t for t in (self.match, self.status) if t)


class ResultsModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ResultRow] = []

    def set_rows(self, rows: list[ResultRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> ResultRow:
        return self._rows[row]

    def rows(self) -> list[ResultRow]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (KIND_LABELS.get(row.kind, row.kind.upper()), row.name, row.status_text)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (KIND_HELP.get(row.kind), row.name, row.status_text or None)[column]
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return (KIND_LABELS.get(row.kind, row.kind), row.name, row.status_text or "current")[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == STATUS_COLUMN:
                return QBrush(STATUS_TEXT if row.status else OLD_MATCH_TEXT if row.match_is_old else MATCH_TEXT)
            if column == NAME_COLUMN and row.status:
                return QBrush(HIDDEN_TEXT)
        if role == KindRole:
            return row.kind
        if role == IdRole:
            return row.id
        return None


class BadgeDelegate(QStyledItemDelegate):
    """Draws the record type as a small coloured badge (VTM, VMP, AMP, VMPP, AMPP)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        kind = index.data(KindRole) or ""
        font = QFont(opt.font)
        font.setBold(True)
        font.setPointSizeF(max(7.0, opt.font.pointSizeF() * 0.8))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance("VMPP") + 12
        height = metrics.height() + 4
        rect = QRect(0, 0, width, height)
        rect.moveCenter(opt.rect.center())
        rect.moveLeft(opt.rect.left() + 6)
        colour = QColor(KIND_COLOURS.get(kind, "#52606d"))
        if opt.state & QStyle.StateFlag.State_Selected:
            painter.setPen(QColor("#ffffff"))
        else:
            painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(max(size.width(), option.fontMetrics.horizontalAdvance("VMPP") + 24), size.height())
