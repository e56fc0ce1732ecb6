"""Preview and print the PDFs ``core/printing`` renders with ReportLab: QtPdf draws them, QtPrintSupport prints.

``preview_and_print(parent, kind, title, pdfs)`` opens a window-modal preview of every page of every PDF, with a
printer chooser (the printer last used for that kind of document on this workstation comes first), Print, Save as
PDF… and Close. ``print_pdfs(printer, pdfs)`` paints every page onto a QPrinter.

QtPdf only renders pages to images, so a page is printed as an image of the page (300 dpi at most: sharp on a
label or receipt printer, and an A4 page stays a few MB). A PDF file printed that way would lose its text, so when
the printer writes a PDF (Save as PDF…, or a PDF printer) the page's text is laid over the image, invisible, where
it is on the page: the saved file can still be searched and copied from, and read back by the tests.

Rendering runs off the UI thread (``desktop.operation``): the preview's pages at screen resolution, the printed
pages at the printer's. QPainter may paint on a QPrinter from a worker thread, and each worker opens its own
QPdfDocument from the bytes, so nothing is shared with the UI thread but the bytes and the finished images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QPointF, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPageLayout, QPageSize, QPainter, QPixmap
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGraphicsDropShadowEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.errors import RxDeskError
from desktop.icons import icon
from desktop.messages import error_text
from desktop.operation import Operation
from desktop.ui_settings import ui_settings

MAX_PRINT_DPI = 300  # label and receipt printers print 203 or 300 dpi; more only makes the job bigger
PREVIEW_WIDTH_PX = 560  # an A4 page's width in the preview (logical pixels)
MAX_PREVIEW_SCALE = 2.5  # pixels per point: small documents (labels, receipts) are enlarged up to this
_PRINTER_KEY = "printers/{kind}"


class DocumentKind(StrEnum):
    """What is printed, so each kind goes to its own printer (a label roll is not an A4 tray)."""

    RECEIPT = "receipt"  # 80 mm receipt printer
    LABEL = "label"  # label printer
    PRESCRIPTION = "prescription"  # A5/A4 prescriptions
    REPORT = "report"  # A4: CD register pages, token statements


class PrintingError(RxDeskError):
    """A document that cannot be read, or a printer that cannot be used: the message is for the user."""


# -- the printer remembered for each kind of document --------------------------------------------------------


def remembered_printer(kind: DocumentKind) -> str | None:
    value = ui_settings().value(_PRINTER_KEY.format(kind=kind.value))
    return str(value) if value else None


def remember_printer(kind: DocumentKind, printer_name: str) -> None:
    settings = ui_settings()
    settings.setValue(_PRINTER_KEY.format(kind=kind.value), printer_name)
    settings.sync()


# -- reading and painting PDF pages ---------------------------------------------------------------------------


def open_pdf(data: bytes) -> QPdfDocument:
    """A QPdfDocument of the bytes (read from memory through a QBuffer the document owns)."""
    document = QPdfDocument()
    buffer = QBuffer(document)
    buffer.setData(data)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document.load(buffer)
    if document.status() != QPdfDocument.Status.Ready or document.pageCount() < 1:
        document.close()
        raise PrintingError("The document to print could not be read (it is not a complete PDF).")
    return document


def pages_of(pdfs: list[bytes]) -> Iterator[tuple[QPdfDocument, int]]:
    """Every page of every PDF, in order. All are opened first: a bad one fails before anything is printed."""
    documents = [open_pdf(data) for data in pdfs]
    for document in documents:
        for index in range(document.pageCount()):
            yield document, index


def render_page(document: QPdfDocument, index: int, pixels_per_point: float) -> QImage:
    size = document.pagePointSize(index) * pixels_per_point
    return document.render(index, QSize(max(1, round(size.width())), max(1, round(size.height()))))


def text_runs(document: QPdfDocument, index: int) -> list[tuple[QRectF, str]]:
    """Each run of text on the page with its rectangle, in points from the page's top left."""
    runs = []
    for polygon in document.getAllText(index).bounds():
        rect = polygon.boundingRect()
        inset = QPointF(0.1, 0.1)  # inside the run, so the neighbouring runs are not taken with it
        text = document.getSelection(index, rect.topLeft() + inset, rect.bottomRight() - inset).text().strip()
        if text:
            runs.append((rect, text))
    return runs


def _page_layout(size: QSizeF) -> QPageLayout:
    page_size = QPageSize(size, QPageSize.Unit.Point, "", QPageSize.SizeMatchPolicy.ExactMatch)
    orientation = QPageLayout.Orientation.Portrait  # the size itself says which way round the page is
    return QPageLayout(page_size, orientation, QMarginsF(), QPageLayout.Unit.Point)


def print_pdfs(printer: QPrinter, pdfs: list[bytes]) -> int:
    """Paint every page of every PDF onto ``printer``, each page scaled to fit its paper; the pages printed.

    Each page asks for paper of its own size (a PDF printer makes pages of exactly that size; a real printer's
    driver picks its nearest paper). May be called from a worker thread. Raises PrintingError.
    """
    pages = list(pages_of(pdfs))
    if not pages:
        return 0
    printer.setFullPage(True)
    printer.setPageLayout(_page_layout(pages[0][0].pagePointSize(pages[0][1])))
    painter = QPainter()
    if not painter.begin(printer):
        raise PrintingError(f"The printer {printer.printerName() or printer.outputFileName()} could not be started.")
    try:
        for number, (document, index) in enumerate(pages):
            if number:
                printer.setPageLayout(_page_layout(document.pagePointSize(index)))  # takes effect from the next page
                if not printer.newPage():
                    raise PrintingError("The printer stopped before the last page.")
            _paint_page(painter, printer, document, index)
    finally:
        painter.end()
    return len(pages)


def _paint_page(painter: QPainter, printer: QPrinter, document: QPdfDocument, index: int) -> None:
    paper = printer.paperRect(QPrinter.Unit.DevicePixel)
    size = document.pagePointSize(index)
    scale = min(paper.width() / size.width(), paper.height() / size.height())  # device pixels per point
    origin = QPointF(paper.x() + (paper.width() - size.width() * scale) / 2, paper.y())
    image = render_page(document, index, min(scale, MAX_PRINT_DPI / 72))
    painter.drawImage(QRectF(origin, size * scale), image)
    if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat:
        _lay_text_over(painter, printer, text_runs(document, index), origin, scale)


def _lay_text_over(
    painter: QPainter, printer: QPrinter, runs: list[tuple[QRectF, str]], origin: QPointF, scale: float
) -> None:
    """The page's text, invisible, over its image: a PDF made by printing stays searchable."""
    painter.save()
    painter.setPen(QColor(0, 0, 0, 0))
    points_per_pixel = 72 / printer.resolution()  # font sizes are in points of the device
    for rect, text in runs:
        target = QRectF(origin + rect.topLeft() * scale, rect.size() * scale)
        font = QFont("DejaVu Sans")
        font.setPointSizeF(max(1.0, target.height() * 0.8 * points_per_pixel))
        natural = QFontMetricsF(font, printer).horizontalAdvance(text)
        if natural > 0:  # stretched to the run's width, so a selection covers the printed words
            font.setStretch(max(1, min(4000, round(100 * target.width() / natural))))
        painter.setFont(font)
        painter.drawText(target, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
    painter.restore()


def preview_images(pdfs: list[bytes], device_pixel_ratio: float) -> list[QImage]:
    """Every page rendered for the screen: an A4 page PREVIEW_WIDTH_PX wide, small pages enlarged."""
    images = []
    for document, index in pages_of(pdfs):
        width = document.pagePointSize(index).width()
        pixels_per_point = min(PREVIEW_WIDTH_PX / width, MAX_PREVIEW_SCALE)
        image = render_page(document, index, pixels_per_point * device_pixel_ratio)
        image.setDevicePixelRatio(device_pixel_ratio)
        images.append(image)
    return images


# -- the preview dialog ------------------------------------------------------------------------------------


class PrintPreviewDialog(QDialog):
    """Every page, a printer chooser, Print, Save as PDF… (not on a kiosk: no file system there) and Close."""

    ready = Signal()  # the preview's pages are shown (or the message says why not)
    printed = Signal(int)  # pages printed

    def __init__(self, parent: QWidget, kind: DocumentKind, title: str, pdfs: list[bytes]) -> None:
        super().__init__(parent)
        self.kind = kind
        self.pdfs = list(pdfs)
        self.setObjectName("printPreview")
        self.setWindowTitle(f"RxDesk: {title}")
        self.setAccessibleName(f"Print preview: {title}")
        self._pages: list[QLabel] = []
        self._running: Operation | None = None
        self._printing = False
        self._where = ""
        self._on_success: Callable[[], None] | None = None

        self.heading = QLabel(title)
        self.heading.setObjectName("previewTitle")
        self.pages_area = QScrollArea()
        self.pages_area.setObjectName("previewPages")
        self.pages_area.setWidgetResizable(True)
        self.pages_area.setAccessibleName("Pages to print")
        holder = QWidget()
        holder.setObjectName("previewPaper")
        self._pages_layout = QVBoxLayout(holder)
        self._pages_layout.setSpacing(16)
        self._pages_layout.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.pages_area.setWidget(holder)
        self.message = QLabel("Preparing the preview…")
        self.message.setObjectName("previewMessage")
        self.message.setWordWrap(True)
        self.printer_box = QComboBox()
        self.printer_box.setAccessibleName("Printer")
        self.printer_box.setMinimumWidth(260)
        self.print_button = QPushButton(icon("print"), "Print")
        self.print_button.setDefault(True)
        self.print_button.setToolTip("Print every page on the chosen printer (Ctrl+P)")
        self.print_button.setShortcut("Ctrl+P")
        self.save_button = QPushButton("Save as PDF…")
        self.close_button = QPushButton("Close")
        self.save_button.setVisible(not _on_kiosk(parent))

        buttons = QHBoxLayout()
        printer_label = QLabel("Printer")
        printer_label.setBuddy(self.printer_box)
        buttons.addWidget(printer_label)
        buttons.addWidget(self.printer_box, 1)
        buttons.addWidget(self.print_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.pages_area, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(PREVIEW_WIDTH_PX + 140, 760)

        self._fill_printers()
        self.print_button.clicked.connect(self.print_now)
        self.save_button.clicked.connect(lambda: self.save_as_pdf())
        self.close_button.clicked.connect(self.reject)
        self._set_busy(True)
        self._render_preview()

    # -- the printers ------------------------------------------------------------------------------------
    def _fill_printers(self) -> None:
        available = QPrinterInfo.availablePrinterNames()
        remembered = remembered_printer(self.kind)
        for name in available:
            self.printer_box.addItem(name, name)
        if remembered and remembered not in available:  # switched off or unplugged: still the choice for this kind
            self.printer_box.insertItem(0, f"{remembered} (not connected)", remembered)
        preferred = remembered or QPrinterInfo.defaultPrinterName()
        index = self.printer_box.findData(preferred)
        self.printer_box.setCurrentIndex(max(index, 0))
        if self.printer_box.count() == 0:
            self.printer_box.addItem("No printer found on this computer", None)

    def printer_name(self) -> str | None:
        data = self.printer_box.currentData()
        return str(data) if data else None

    # -- the pages ---------------------------------------------------------------------------------------
    def _render_preview(self) -> None:
        pdfs, ratio = self.pdfs, self.devicePixelRatioF()
        operation = Operation(lambda _report: preview_images(pdfs, ratio))
        operation.succeeded.connect(self._show_pages)
        operation.failed.connect(self._preview_failed)
        operation.finished.connect(self._preview_finished)
        self._running = operation.start()

    def _show_pages(self, images: list[QImage]) -> None:
        for number, image in enumerate(images, 1):
            page = QLabel()
            page.setObjectName("previewPage")
            page.setPixmap(QPixmap.fromImage(image))
            shadow = QGraphicsDropShadowEffect(page)
            shadow.setBlurRadius(12)
            shadow.setOffset(0, 2)
            shadow.setColor(QColor(16, 42, 67, 70))
            page.setGraphicsEffect(shadow)
            page.setAccessibleName(f"Page {number} of {len(images)}")
            self._pages.append(page)
            self._pages_layout.addWidget(page, 0, Qt.AlignmentFlag.AlignHCenter)
        count = len(images)
        self.message.setText(f"{count} page{'s' if count != 1 else ''} to print.")

    def _preview_failed(self, error: BaseException) -> None:
        self.pdfs = []  # nothing is printed from a document that cannot be read
        self.say(error_text(error), failed=True)

    def _preview_finished(self) -> None:
        self._running = None
        self._set_busy(False)
        self.ready.emit()

    def page_count(self) -> int:
        return len(self._pages)

    # -- printing ------------------------------------------------------------------------------------------
    def print_now(self) -> Operation | None:
        """Print on the chosen printer, which becomes the printer remembered for this kind of document."""
        name = self.printer_name()
        info = QPrinterInfo.printerInfo(name) if name else QPrinterInfo()
        if name is None or info.isNull():
            where = f"The printer {name} is not connected to this computer" if name else "No printer is set up here"
            self.say(f"{where}: choose another printer, or save the document as a PDF.", failed=True)
            return None
        printer = QPrinter(info, QPrinter.PrinterMode.HighResolution)
        printer.setDocName(self.windowTitle())
        kind = self.kind
        return self.print_to(printer, f"on {name}", lambda: remember_printer(kind, name))

    def save_as_pdf(self, path: str | None = None) -> Operation | None:
        """Print to a PDF file (asked for when ``path`` is None)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save as PDF", f"{self.kind.value}.pdf", "PDF (*.pdf)")
            if not path:
                return None
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(path)
        printer.setDocName(self.windowTitle())
        return self.print_to(printer, f"to {path}")

    def print_to(self, printer: QPrinter, where: str, on_success: Callable[[], None] | None = None) -> Operation | None:
        """Print every page on ``printer`` off the UI thread; ``on_success`` runs once it has printed."""
        if self._running is not None or not self.pdfs:
            return None
        pdfs = self.pdfs
        self._where, self._on_success = where, on_success
        operation = Operation(lambda _report: print_pdfs(printer, pdfs))  # the worker holds the printer till done
        operation.succeeded.connect(self._printed)
        operation.failed.connect(self._print_failed)
        operation.finished.connect(self._print_finished)
        self._printing = True
        self._set_busy(True)
        self.say(f"Printing {where}…")
        self._running = operation.start()
        return self._running

    def _printed(self, pages: int) -> None:
        if self._on_success is not None:
            self._on_success()
        self.say(f"Printed {pages} page{'s' if pages != 1 else ''} {self._where}.")
        self.printed.emit(pages)

    def _print_failed(self, error: BaseException) -> None:
        self.say(error_text(error), failed=True)

    def _print_finished(self) -> None:
        self._running = None
        self._printing = False
        self._set_busy(False)

    def reject(self) -> None:
        if not self._printing:  # a job half sent to the printer is let finish (it takes a moment)
            super().reject()

    # -- state -------------------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        usable = not busy and bool(self.pdfs)
        self.print_button.setEnabled(usable and self.printer_name() is not None)
        self.save_button.setEnabled(usable)
        self.close_button.setEnabled(not self._printing)

    def say(self, text: str, *, failed: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("failed", failed)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)


def _on_kiosk(widget: QWidget) -> bool:
    return bool(widget.window().property("kiosk"))


def preview_and_print(parent: QWidget, kind: DocumentKind, title: str, pdfs: list[bytes]) -> PrintPreviewDialog:
    """Open (window-modal, without blocking) the preview of every page of ``pdfs``; the dialog is returned."""
    dialog = PrintPreviewDialog(parent, kind, title, pdfs)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.open()
    return dialog
