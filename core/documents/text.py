"""Text as the documents' fonts can draw it, and wrapped to a width.

The documents print in the bundled DejaVu Sans (core.documents.fonts), which draws Latin, Greek and Cyrillic, so
names such as "Zoë O'Brien-Łukasz" or "Ольга Смирнова" print exactly. A character the font has no glyph for (CJK,
emoji) would print as an empty box: it is folded to its nearest drawable form ("㎎" → "mg", "𝐀" → "A") or "?"
before drawing.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from reportlab.pdfbase.pdfmetrics import stringWidth

from core.documents.fonts import can_draw, register_fonts

# Folds for characters the font cannot draw and Unicode does not decompose to a base letter. DejaVu Sans has all of
# these today; they stay as the fallback should the bundled font ever be swapped for a smaller one.
_FOLDS = {
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ħ": "H",
    "ħ": "h",
    "ı": "i",
    "Ŧ": "T",
    "ŧ": "t",
    "Ŀ": "L",
    "ŀ": "l",
    "ĸ": "k",
    "Ŋ": "N",
    "ŋ": "n",
    "−": "-",  # minus sign
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "≤": "<=",
    "≥": ">=",
}


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Cf") or _is_variation_selector(char):
        # Control and format characters (a scanner's GS separator, a zero-width joiner) and emoji/text
        # presentation selectors draw nothing.
        return ""
    if can_draw(char):
        return char
    if char in _FOLDS:
        return _FOLDS[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(can_draw(c) for c in base):
        return base
    return "?"


def printable(text: str) -> str:
    """``text`` on one line (whitespace runs become one space), in characters the documents' font has.

    Letters typed as a base letter and a combining accent are composed first (NFC), so "e" + "◌̈" prints as "ë".
    """
    one_line = " ".join(text.split())
    if one_line.isascii() and one_line.isprintable():
        return one_line
    return "".join(_fold(c) for c in unicodedata.normalize("NFC", one_line))


@lru_cache(maxsize=16384)  # registers and statements repeat the same names and words on every line
def text_width(text: str, font: str, size: float) -> float:
    register_fonts()  # the documents' fonts must be registered before they can be measured
    return float(stringWidth(text, font, size))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap of printable(text); a word wider than the line is broken between characters.

    ReportLab applies no kerning, so a line is as wide as its words plus its spaces: each word is measured once,
    which keeps long tables fast.
    """
    space = text_width(" ", font, size)
    lines: list[str] = []
    current: list[str] = []
    current_width = 0.0
    for word in printable(text).split(" "):
        word_width = text_width(word, font, size)
        if current and current_width + space + word_width <= width:
            current.append(word)
            current_width += space + word_width
            continue
        if current:
            lines.append(" ".join(current))
        while word_width > width and len(word) > 1:
            cut = _longest_prefix(word, font, size, width)
            lines.append(word[:cut])
            word = word[cut:]
            word_width = text_width(word, font, size)
        current, current_width = [word], word_width
    lines.append(" ".join(current))
    return lines


def _longest_prefix(word: str, font: str, size: float, width: float) -> int:
    cut = len(word) - 1
    while cut > 1 and text_width(word[:cut], font, size) > width:
        cut -= 1
    return cut
