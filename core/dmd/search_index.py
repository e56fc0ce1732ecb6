"""The search index of the replica, built once per release.

``search_doc`` has one row per searchable product (VTM, VMP, AMP, VMPP, AMPP). Its rowid (``rank``) is the default
result order: visible before hidden, then VTM, VMP, AMP, VMPP, AMPP. Rows are inserted in that order, kind by kind,
so the order costs no sort. FTS5 walks matches in rowid order, so a type-ahead query stops after its first page
instead of ranking every match, and a rowid bound leaves the hidden products out inside FTS5 itself.

``search_fts`` is contentless and keeps no positions (the smallest, quickest index). To tell "the name starts with
what was typed" from "a word somewhere starts with it" without positions, each document also carries its first
word behind a marker (``NAME_START_MARK``), found with one more prefix term.
"""

from __future__ import annotations

import sqlite3

KIND_NAMES = ("vtm", "vmp", "amp", "vmpp", "ampp")
KIND_RANK = {name: rank for rank, name in enumerate(KIND_NAMES)}
# A token character for the tokenizer (tokenchars below) that query words never contain: a marked token can only be
# matched on purpose, never by a word prefix someone types.
NAME_START_MARK = "§"

# Per kind: table, id column, display name, extra searchable text, and why a row is hidden by default
# ('invalid', 'discontinued', 'unavailable'; NULL when shown). Codes from the lookup file (DESIGN.md section 4).
# The smaller kinds are ordered shortest name first ("Paracetamol" before "Paracetamol + Caffeine"); the two
# big ones keep release order, as sorting them would cost more than it helps a type-ahead list.
_DOCS = {
    "vtm": ("vtm", "vtmid", "nm", "abbrevnm", "CASE WHEN invalid = 1 THEN 'invalid' END"),
    "vmp": (
        "vmp",
        "vpid",
        "nm",
        "trim(coalesce(abbrevnm, '') || ' ' || coalesce(nmprev, ''))",
        "CASE WHEN invalid = 1 THEN 'invalid' WHEN non_availcd = '0001' THEN 'unavailable' END",
    ),
    "amp": (
        "amp",
        "apid",
        "desc",
        "trim(coalesce(abbrevnm, '') || ' ' || coalesce(nm_prev, ''))",
        "CASE WHEN invalid = 1 THEN 'invalid' WHEN avail_restrictcd = '0009' THEN 'unavailable' END",
    ),
    "vmpp": ("vmpp", "vppid", "nm", "abbrevnm", "CASE WHEN invalid = 1 THEN 'invalid' END"),
    "ampp": (
        "ampp",
        "appid",
        "nm",
        "abbrevnm",
        "CASE WHEN invalid = 1 THEN 'invalid' WHEN disccd = '0001' THEN 'discontinued' END",
    ),
}

_SORTED_KINDS = ("vtm", "vmp", "vmpp")

SEARCH_SCHEMA = (
    """CREATE TABLE search_doc (
        rank INTEGER PRIMARY KEY, kind INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, status TEXT,
        extra TEXT)""",
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        text, content='', detail=none, columnsize=0, tokenize="unicode61 remove_diacritics 2 tokenchars '§'")""",
)


class SearchIndexBuilder:
    """Adds documents kind by kind in rank order, each kind as soon as its table is loaded.

    The builder can start while the pack tables are still being parsed elsewhere: it stops at the first kind whose
    table is not loaded yet and goes on from there on the next call.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._steps = [(hidden, kind) for hidden in (False, True) for kind in KIND_NAMES]
        self._indexed_rank = 0
        for statement in SEARCH_SCHEMA:
            conn.execute(statement)

    @property
    def complete(self) -> bool:
        return not self._steps

    def advance(self, loaded: set[str]) -> None:
        added = False
        while self._steps and _DOCS[self._steps[0][1]][0] in loaded:
            hidden, kind = self._steps.pop(0)
            self._add_documents(hidden, kind)
            added = True
        if added:
            self._index_new_documents()

    def _add_documents(self, hidden: bool, kind: str) -> None:
        table, id_col, name_col, extra, status = _DOCS[kind]
        order = f" ORDER BY length({name_col}), {name_col}" if kind in _SORTED_KINDS else ""
        self._conn.execute(
            "INSERT INTO search_doc (kind, id, name, status, extra) "
            f"SELECT {KIND_RANK[kind]}, {id_col}, {name_col}, {status}, nullif({extra}, '') FROM {table} "
            f"WHERE {name_col} IS NOT NULL AND ({status}) IS {'NOT ' if hidden else ''}NULL{order}"
        )

    def _index_new_documents(self) -> None:
        # The marker is glued to the name's first chunk in SQL: the tokenizer then splits it exactly as it splits
        # the name, so the marked token is the first word ("Co-codamol" -> "§co", "codamol").
        self._conn.execute(
            "INSERT INTO search_fts (rowid, text) "
            f"SELECT rank, name || ' ' || coalesce(extra, '') || ' {NAME_START_MARK}' || "
            "substr(ltrim(name, '([{\"'' '), 1, instr(ltrim(name, '([{\"'' ') || ' ', ' ') - 1) "
            "FROM search_doc WHERE rank > ?",
            (self._indexed_rank,),
        )
        self._indexed_rank = self._conn.execute("SELECT coalesce(max(rank), 0) FROM search_doc").fetchone()[0]


def build_search_index(conn: sqlite3.Connection) -> int:
    """Fill search_doc and search_fts from the product tables at once; returns the number of documents."""
    builder = SearchIndexBuilder(conn)
    builder.advance({_DOCS[kind][0] for kind in KIND_NAMES})
    count: int = conn.execute("SELECT count(*) FROM search_doc").fetchone()[0]
    return count
