"""Text as the standard PDF fonts can draw it, and wrapped to a width.

The documents use the 14 standard PDF fonts (Helvetica, Courier) so nothing depends on fonts installed on the
machine. Those fonts only have the WinAnsi (cp1252) characters: anything else would print as a black box, so it
is folded to its nearest WinAnsi form ("Ł" → "L", "ś" → "s") or "?" before drawing.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from reportlab.pdfbase.pdfmetrics import stringWidth

# Letters with no Unicode decomposition to a base letter.
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


def _draws(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    if char in _FOLDS:
        return _FOLDS[char]
    if unicodedata.category(char) in ("Cc", "Cf"):
        return ""  # control and format characters (a scanner's GS separator, a zero-width joiner) draw nothing
    if _draws(char):
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(_draws(c) for c in base):
        return base
    return "?"


def printable(text: str) -> str:
    """``text`` on one line (whitespace runs become one space), in characters the standard fonts have."""
    one_line = " ".join(text.split())
    if one_line.isascii() and one_line.isprintable():
        return one_line
    return "".join(_fold(c) for c in one_line)


@lru_cache(maxsize=16384)  # registers and statements repeat the same names and words on every line
def text_width(text: str, font: str, size: float) -> float:
    return float(stringWidth(text, font, size))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap of printable(text); a word wider than the line is broken between characters.

    The standard fonts have no kerning, so a line is as wide as its words plus its spaces: each word is measured
    once, which keeps long tables fast.
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
