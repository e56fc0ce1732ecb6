"""Type-ahead search over the replica.

Three tiers, each in the replica's rank order (visible first, then VTM, VMP, AMP, VMPP, AMPP; see search_index.py):
names equal to the query, names starting with it, then products with every query word as the start of a word
anywhere in their names, previous names, abbreviations or AMP descriptions. Whatever a user types is only ever
turned into quoted word tokens or bound as a parameter, so quotes, ``*``, ``-``, ``NEAR`` or brackets are
searched as text and can never break or inject into the query.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import string
import unicodedata
from dataclasses import dataclass

from core.dmd.search_index import KIND_NAMES, NAME_START_MARK, SEARCH_PARTS, CandidateQuery, candidate_query

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# FTS5's unicode61 tokenizer: letters and digits make words, everything else separates them.
_WORD = re.compile(r"[^\W_]+")
_MIN_WORD_QUERY = 2  # a one-letter word prefix matches most of the catalogue: name starts only
_MAX_FILTERED = 1024  # candidates checked here before the rest is left to FTS5


@dataclass(frozen=True)
class SearchHit:
    id: int
    type: str  # vtm, vmp, amp, vmpp, ampp
    name: str
    status: str | None  # None, or why it is hidden by default: invalid, discontinued, unavailable

    def as_dict(self) -> dict[str, object]:
        return {"id": str(self.id), "type": self.type, "name": self.name, "status": self.status}


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, as the tokenizer with remove_diacritics sees words."""
    # Canonical decomposition only (NFD): FTS5 strips accents but does not fold compatibility characters.
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def first_word(text: str) -> str:
    found = words(text[:200])
    return found[0] if found else ""


def name_key(text: str) -> str:
    return " ".join(_fold(text).split())


@dataclass(frozen=True)
class _Segment:
    """Documents of one search part, visible or hidden: a rank range of one FTS5 table."""

    query: CandidateQuery  # of its part, for the kinds asked for
    low: int
    high: int


class Searcher:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        include_hidden: bool = False,
        kinds: tuple[str, ...] = KIND_NAMES,
    ) -> list[SearchHit]:
        terms = words(text[:500])
        if not terms or limit <= 0:
            return []
        segments = _segments(kinds, include_hidden)
        if not segments:
            return []
        # Name starts: the first word marked, every other word anywhere.
        hits = self._match(f"{NAME_START_MARK}{terms[0]}", terms[1:], segments, limit, {})
        # Exact names first: stable, so rank order holds among them and among the rest.
        key = name_key(text)
        hits = dict(sorted(hits.items(), key=lambda item: name_key(item[1].name) != key))
        if len(hits) < limit and len("".join(terms)) >= _MIN_WORD_QUERY:
            # Words anywhere, led by the longest word: the most selective one, as a rule.
            driver = max(terms, key=len)
            others = list(terms)
            others.remove(driver)
            hits = self._match(driver, others, segments, limit, hits)
        return list(hits.values())[:limit]

    def _match(
        self,
        driver: str,
        others: list[str],
        segments: list[_Segment],
        limit: int,
        hits: dict[int, SearchHit],
    ) -> dict[int, SearchHit]:
        """Add documents with ``driver`` as a word prefix (FTS5) and the ``others`` too, in rank order.

        FTS5 expands a prefix term without a prefix index by merging the lists of every word it starts, which is
        slow for a short or common word ("c", "caps"). So only the driver goes to FTS5, walked lazily in rank
        order, and the other words are checked here on the few documents it yields. Past a bounded number of
        candidates the rest is left to a full FTS5 AND, so the cost stays bounded whatever is typed.
        """
        scanned = 0
        for segment in segments:
            low = segment.low
            if not others or scanned < _MAX_FILTERED:
                cursor = self._conn.execute(segment.query.sql, (_term(driver), low, segment.high))
                while len(hits) < limit and (not others or scanned < _MAX_FILTERED):
                    rows = cursor.fetchmany(64)
                    if not rows:
                        low = segment.high  # this segment is done
                        break
                    for row in rows:
                        rank = low = row[0]
                        kind, product_id, name, status, extra = segment.query.document(row)
                        scanned += 1
                        if others and not _has_word_prefixes(f"{name} {extra or ''}", others):
                            continue
                        if rank not in hits:
                            hits[rank] = SearchHit(product_id, KIND_NAMES[kind], name, status)
                            if len(hits) >= limit:
                                break
                cursor.close()
            if len(hits) >= limit:
                return hits
            if low < segment.high:  # too many candidates: FTS5 does the AND for the rest of the segment
                expression = " AND ".join(_term(t) for t in [driver, *others])
                rows = self._conn.execute(
                    segment.query.sql + " LIMIT ?", (expression, low, segment.high, limit - len(hits))
                ).fetchall()
                for row in rows:
                    kind, product_id, name, status, _extra = segment.query.document(row)
                    hits.setdefault(row[0], SearchHit(product_id, KIND_NAMES[kind], name, status))
                if len(hits) >= limit:
                    return hits
        return hits


def _segments(kinds: tuple[str, ...], include_hidden: bool) -> list[_Segment]:
    """The rank ranges to walk, in rank order, for the kinds asked for."""
    segments = []
    for hidden in (False, True) if include_hidden else (False,):
        for part in SEARCH_PARTS:
            wanted = tuple(k for k in part.kinds if k in kinds)
            if wanted:
                segments.append(_Segment(_query(part, wanted), *part.segment(hidden)))
    return segments


_query = functools.lru_cache(maxsize=None)(candidate_query)


def _term(word: str) -> str:
    """The FTS5 expression for a word prefix: a marked one at the start of a name only, any other anywhere (the
    first word of a name is indexed marked only, see search_index.py)."""
    if word.startswith(NAME_START_MARK):
        return f'"{word}"*'
    return f'("{word}"* OR "{NAME_START_MARK}{word}"*)'


def _has_word_prefixes(text: str, prefixes: list[str]) -> bool:
    found = words(text)
    return all(any(w.startswith(p) for w in found) for p in prefixes)
