"""The bundled DejaVu Sans fonts the documents print in, registered with ReportLab once, on first use.

The 14 standard PDF fonts only have the WinAnsi (cp1252) characters, so a patient called "Łukasz" or "Ольга"
would not print as named. DejaVu Sans (regular and bold, resources/fonts, Bitstream Vera / DejaVu licence in
LICENSE-DejaVu.txt) draws Latin, Greek and Cyrillic; the glyphs a document uses are embedded in it as a subset,
so the PDF prints the same on any machine.
"""

from __future__ import annotations

import threading
from typing import Any

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from core.paths import RESOURCES

FONTS_DIR = RESOURCES / "fonts"
FONT = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
_FILES = {FONT: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}

_lock = threading.Lock()
_coverage: frozenset[int] | None = None


class _SharedTTFont(TTFont):  # type: ignore[misc]  # reportlab is untyped
    """A TTFont that documents rendered on several threads at once can share.

    Each document keeps its own subset state, but writing the subsets reads the one font file through a shared
    file position, so only one document at a time may do it.
    """

    def __init__(self, name: str, filename: str) -> None:
        # asciiReadable=False: a subset holds only the characters the document uses, not all of ASCII besides,
        # which keeps the embedded fonts (and the time to build and compress them) small.
        super().__init__(name, filename, asciiReadable=False)
        self._subset_lock = threading.Lock()

    def addObjects(self, doc: Any) -> None:
        with self._subset_lock:
            super().addObjects(doc)

    def splitString(self, text: str, doc: Any, encoding: str = "utf-8") -> list[tuple[int, bytes]]:
        """Text as (subset, codes) runs: when every character already has a code in the first subset (most
        strings of a long table), the codes are looked up in one pass; otherwise ReportLab assigns them.

        ReportLab's own loop handles one character at a time in Python, which made it the largest single cost
        of drawing a long CD register. The result is the same either way.
        """
        state = self.state.get(doc)
        assignments = getattr(state, "assignments", None)
        if assignments is not None and isinstance(text, str):
            try:
                codes = bytes(map(assignments.__getitem__, map(ord, text)))
            except (KeyError, ValueError):  # a character not assigned yet, or one in a later subset
                pass
            else:
                return [(0, codes)] if codes else []
        result: list[tuple[int, bytes]] = super().splitString(text, doc, encoding)
        return result


def register_fonts() -> frozenset[int]:
    """Registers FONT and BOLD (once; safe from any thread) and returns the code points both can draw."""
    coverage = _coverage
    if coverage is None:
        coverage = _register()
    return coverage


def _register() -> frozenset[int]:
    global _coverage
    with _lock:
        if _coverage is not None:
            return _coverage
        fonts = [_SharedTTFont(name, str(FONTS_DIR / filename)) for name, filename in _FILES.items()]
        for font in fonts:
            pdfmetrics.registerFont(font)
        # <b> in a paragraph of either font selects BOLD; there is no italic, so <i> keeps the upright face.
        # The upright mappings go last: the last one for a name is what that name itself stands for.
        family = FONT.lower()
        for bold, italic, name in ((0, 1, FONT), (1, 1, BOLD), (0, 0, FONT), (1, 0, BOLD)):
            addMapping(family, bold, italic, name)
        # A character is printed as is only if both faces have it: the same text may be set in either.
        regular, bold_face = (set(font.face.charToGlyph) for font in fonts)
        _coverage = frozenset(regular & bold_face)
        return _coverage


def can_draw(char: str) -> bool:
    """Whether both bundled faces have a glyph for the one character ``char``."""
    return ord(char) in register_fonts()
