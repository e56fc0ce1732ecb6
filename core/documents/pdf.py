"""The PDF canvas every document is drawn on: deterministic output, RxDesk metadata, "Page n of m" footers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

from core.documents.fonts import BOLD, FONT, register_fonts
from core.documents.text import printable, text_width, wrap

__all__ = [
    "BOLD",
    "FONT",
    "MONO",
    "markup",
    "new_canvas",
    "new_document",
    "new_page_numbered_canvas",
    "page_numbered_canvas",
]

MONO = "Courier"  # only ever prints prescription ids (hex digits), which the standard font has
FOOTER_Y = 7 * mm  # baseline of the page footer (of its last line, when it takes two)
FOOTER_SIZE = 7.5
FOOTER_GAP = 4 * mm  # at least this between the footer and "Page n of m"


def new_canvas(target: Any, page_size: tuple[float, float], title: str) -> Canvas:
    register_fonts()
    # invariant=1 fixes the creation date and document id, so the same input gives the same bytes.
    canvas = Canvas(target, pagesize=page_size, invariant=1)
    canvas.setTitle(title)
    canvas.setAuthor("RxDesk")
    canvas.setCreator("RxDesk")
    return canvas


class _PageNumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
    """Defers each page until the document is complete, then stamps "Page n of m" on every one."""

    def __init__(self, *args: Any, footer: str, margin: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = printable(footer)
        self._margin = margin
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            width = self._pagesize[0]
            page = f"Page {number} of {total}"
            # A long footer (a long name) wraps in what "Page n of m" leaves free, upwards into the bottom margin.
            free = width - 2 * self._margin - text_width(page, FONT, FOOTER_SIZE) - FOOTER_GAP
            lines = wrap(self._footer, FONT, FOOTER_SIZE, free)
            self.setFont(FONT, FOOTER_SIZE)
            self.setFillColorRGB(0.3, 0.3, 0.3)
            for index, line in enumerate(lines):
                self.drawString(self._margin, FOOTER_Y + (len(lines) - 1 - index) * FOOTER_SIZE * 1.2, line)
            self.drawRightString(width - self._margin, FOOTER_Y, page)
            super().showPage()
        super().save()


def page_numbered_canvas(footer: str, margin: float) -> Callable[..., Canvas]:
    """A platypus ``canvasmaker``: every page carries ``footer`` on the left and "Page n of m" on the right."""
    return partial(_PageNumberedCanvas, footer=footer, margin=margin)


def new_page_numbered_canvas(
    target: Any, page_size: tuple[float, float], title: str, footer: str, margin: float
) -> Canvas:
    """A canvas for documents drawn by hand, with the same metadata and "Page n of m" footers."""
    register_fonts()
    canvas = _PageNumberedCanvas(target, pagesize=page_size, invariant=1, footer=footer, margin=margin)
    canvas.setTitle(title)
    canvas.setAuthor("RxDesk")
    canvas.setCreator("RxDesk")
    return canvas


def markup(text: str) -> str:
    """Plain text made safe inside a platypus Paragraph ("<", "&" in directions are not markup)."""
    return escape(printable(text))


def new_document(
    target: Any,
    page_size: tuple[float, float],
    title: str,
    margin: float,
    top_margin: float | None = None,
    on_page: Callable[[Canvas, BaseDocTemplate], None] | None = None,
) -> BaseDocTemplate:
    """A platypus document with the same deterministic output and metadata as ``new_canvas``.

    Its one frame has no padding, so flowables ``document.width`` wide line up with the page margins;
    ``on_page`` draws what every page repeats (a running header) above ``top_margin``.
    """
    register_fonts()
    top = margin if top_margin is None else top_margin
    bottom = margin + 4 * mm  # the page footer sits in the bottom margin
    width, height = page_size
    frame = Frame(
        margin,
        bottom,
        width - 2 * margin,
        height - top - bottom,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    document = BaseDocTemplate(
        target,
        pagesize=page_size,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=top,
        bottomMargin=bottom,
        title=title,
        author="RxDesk",
        creator="RxDesk",
        invariant=1,
    )
    document.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page or _nothing)])
    return document


def _nothing(canvas: Canvas, document: BaseDocTemplate) -> None:
    pass
