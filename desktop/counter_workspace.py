"""The pharmacy counter workspace: Dispense (the queue, scanning, supplying), Owings and, for pharmacists, the CD
register, as tabs. A scan anywhere in the workspace is heard: a prescription's barcode opens it on the Dispense
tab, whichever tab was showing.

Keys: F2 find (the Dispense tab's search box), F3 owings, F4 CD register; on the Dispense tab F5 dispenses, F9
prints the labels and F8 the receipt.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from core.context import ServiceContext
from core.dmd.catalogue import Catalogue
from core.users.roles import Permission, allowed
from desktop.cd_register_panel import CdRegisterPanel
from desktop.counter_panel import CounterPanel, ask_reason
from desktop.owings_panel import OwingsPanel


class CounterWorkspace(QWidget):
    def __init__(
        self,
        ctx: ServiceContext,
        catalogue: Callable[[], Catalogue | None],
        parent: QWidget | None = None,
        reason: Callable[[QWidget, str], str | None] = ask_reason,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("counterWorkspace")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("counterTabs")
        self.counter = CounterPanel(ctx, catalogue, reason=reason, scan_area=self)
        self.owings = OwingsPanel(ctx)
        self.cd_register = CdRegisterPanel(ctx, catalogue) if allowed(ctx.actor.role, Permission.CD_REGISTER) else None
        self.tabs.addTab(self.counter, "Dispense (F2)")
        self.tabs.addTab(self.owings, "Owings (F3)")
        if self.cd_register is not None:
            self.tabs.addTab(self.cd_register, "CD register (F4)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self.setFocusProxy(self.counter.find_box)  # focus lands where a scan or a search is expected

        self.counter.scanner.scanned.connect(self._scanned)
        self.owings.supply_requested.connect(self.supply)
        self.counter.dispensed.connect(lambda _result: self.owings.refresh())
        shortcuts: list[tuple[str, Callable[[], object]]] = [("F2", self.find), ("F3", self.show_owings)]
        if self.cd_register is not None:
            shortcuts.append(("F4", self.show_cd_register))
        for key, action in shortcuts:
            QShortcut(QKeySequence(key), self, action)

    def _scanned(self, _code: str) -> None:
        self.tabs.setCurrentWidget(self.counter)  # the panel itself handles the scan

    def find(self) -> None:
        self.tabs.setCurrentWidget(self.counter)
        self.counter.find_box.setFocus()
        self.counter.find_box.selectAll()

    def show_owings(self) -> None:
        self.tabs.setCurrentWidget(self.owings)
        self.owings.table.setFocus()

    def show_cd_register(self) -> None:
        if self.cd_register is not None:
            self.tabs.setCurrentWidget(self.cd_register)
            self.cd_register.product_list.setFocus()

    def supply(self, prescription_id: str) -> None:
        """An owing chosen from the list: its prescription on the counter, the rest to supply already set."""
        self.tabs.setCurrentWidget(self.counter)
        self.counter.open(prescription_id)
        self.counter.items.setFocus()
