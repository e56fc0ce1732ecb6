"""Type-ahead search over the replica.

Results come in three tiers, each in the replica's rank order (VTM, VMP, AMP, VMPP, AMPP, then shorter names):
names equal to the query, names starting with it, then products with every query word as a word prefix
anywhere in their names, previous names, abbreviations or AMP descriptions. Whatever a user types is only ever
bound as a parameter or turned into quoted word tokens, so it cannot break or inject into the query.
"""

from __future__ import annotations

import re
import sqlite3
import string
from dataclasses import dataclass

from core.dmd.search_index import KIND_NAMES, KIND_RANK

# SQLite's lower() folds ASCII only; the key of a query must be folded the same way as the stored name_key.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_WORD = re.compile(r"[^\W_]+")
_MIN_WORD_QUERY = 2  # a one-letter word prefix matches most of the catalogue: name prefixes only


@dataclass(frozen=True)
class SearchHit:
    id: int
    type: str  # vtm, vmp, amp, vmpp, ampp
    name: str
    status: str | None  # None, or why it is hidden by default: invalid, discontinued, unavailable

    def as_dict(self) -> dict[str, object]:
        return {"id": str(self.id), "type": self.type, "name": self.name, "status": self.status}


def search_key(text: str) -> str:
    return " ".join(text.split()).translate(_ASCII_LOWER)


def fts_query(text: str) -> str | None:
    """The FTS5 expression for ``text``: every word as a quoted prefix term, or None if it has no words."""
    words = _WORD.findall(text.casefold())
    if not words:
        return None
    return " AND ".join(f'"{w}"*' for w in words)


class Searcher:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        row = conn.execute("SELECT min(rank) FROM search_doc WHERE status IS NOT NULL").fetchone()
        # Hidden documents are ranked after all visible ones: a rowid bound excludes them inside FTS5.
        self._first_hidden = row[0] if row[0] is not None else 1 << 62

    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        include_hidden: bool = False,
        kinds: tuple[str, ...] = KIND_NAMES,
    ) -> list[SearchHit]:
        key = search_key(text)
        if not key or limit <= 0:
            return []
        kind_ranks = [KIND_RANK[k] for k in KIND_NAMES if k in kinds]
        hidden_flags = (0, 1) if include_hidden else (0,)
        hits: dict[int, SearchHit] = {}
        self._by_name(key, hidden_flags, kind_ranks, limit, hits, exact=True)
        if len(hits) < limit:
            self._by_name(key, hidden_flags, kind_ranks, limit, hits, exact=False)
        if len(hits) < limit and len(key) >= _MIN_WORD_QUERY:
            self._by_words(text, include_hidden, kind_ranks, limit, hits)
        return list(hits.values())[:limit]

    def _by_name(
        self,
        key: str,
        hidden_flags: tuple[int, ...],
        kind_ranks: list[int],
        limit: int,
        hits: dict[int, SearchHit],
        *,
        exact: bool,
    ) -> None:
        condition = "name_key = ?" if exact else "name_key > ? AND name_key < ?"
        params: tuple[str, ...] = (key,) if exact else (key, key + "\U0010ffff")
        for hidden in hidden_flags:
            for kind in kind_ranks:
                rows = self._conn.execute(
                    "SELECT rank, kind, id, name, status FROM search_doc "
                    f"WHERE (status IS NOT NULL) = ? AND kind = ? AND {condition} "
                    "ORDER BY length(name_key), name_key LIMIT ?",
                    (hidden, kind, *params, limit - len(hits) + 1),
                ).fetchall()
                self._add(rows, hits, limit)
                if len(hits) >= limit:
                    return

    def _by_words(
        self, text: str, include_hidden: bool, kind_ranks: list[int], limit: int, hits: dict[int, SearchHit]
    ) -> None:
        expression = fts_query(text)
        if expression is None:
            return
        bound = (1 << 62) if include_hidden else self._first_hidden
        kind_filter = "" if len(kind_ranks) == len(KIND_NAMES) else f" AND d.kind IN ({','.join(map(str, kind_ranks))})"
        rows = self._conn.execute(
            "SELECT d.rank, d.kind, d.id, d.name, d.status FROM search_fts f JOIN search_doc d ON d.rank = f.rowid "
            f"WHERE search_fts MATCH ? AND f.rowid < ?{kind_filter} ORDER BY f.rowid LIMIT ?",
            (expression, bound, limit + len(hits)),
        ).fetchall()
        self._add(rows, hits, limit)

    @staticmethod
    def _add(rows: list[tuple[int, int, int, str, str | None]], hits: dict[int, SearchHit], limit: int) -> None:
        for rank, kind, product_id, name, status in rows:
            if len(hits) >= limit:
                return
            if rank not in hits:
                hits[rank] = SearchHit(product_id, KIND_NAMES[kind], name, status)
