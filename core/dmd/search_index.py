"""The search index of the replica, built once per release.

``search_doc`` has one row per searchable product (VTM, VMP, AMP, VMPP, AMPP). Its rowid (``rank``) is the result
order: visible before hidden, then VTM, VMP, AMP, VMPP, AMPP. The index comes in two parts, each with its own FTS5
table and its own ``search_doc``: the products (VTM to VMPP, ``search_fts``) in the replica's main file and the packs
(AMPP, ``pack_fts``) in its packs file (see layout.py), so that the two processes of a build each index the tables
they parsed (see build.py). Ranks carry their place in that order in their high
bits (``HIDDEN_RANK``, ``PACK_RANK``), so each part numbers its own documents and the order still holds across
parts. Rows are inserted in rank order, kind by kind, so the order costs no sort; FTS5 walks matches in rowid
order, so a type-ahead query stops after its first page instead of ranking every match.

The FTS tables are contentless and keep no positions (the smallest, quickest index). To tell "the name starts
with what was typed" from "a word somewhere starts with it" without positions, each document also carries its
first word behind a marker (``NAME_START_MARK``), found with one more prefix term.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from core.dmd.layout import PACKS_SCHEMA

KIND_NAMES = ("vtm", "vmp", "amp", "vmpp", "ampp")
KIND_RANK = {name: rank for rank, name in enumerate(KIND_NAMES)}
# A token character for the tokenizer (tokenchars below) that query words never contain: a marked token can only be
# matched on purpose, never by a word prefix someone types.
NAME_START_MARK = "§"

# Characters stripped from the start of a name before its first word is marked.
_LEADING = "([{\"' "
_LEADING_CODES = ", ".join(str(ord(c)) for c in _LEADING)
_LEADING_SQL = _LEADING.replace("'", "''")

PACK_RANK = 1 << 40  # packs after the other products...
HIDDEN_RANK = 1 << 41  # ...and every hidden document after every visible one


@dataclass(frozen=True)
class SearchPart:
    """Documents indexed together in one FTS5 table, from the tables one process of a build loads."""

    fts: str
    kinds: tuple[str, ...]  # in rank order
    schema: str  # the database holding it once the replica is open: "main", or the attached packs file
    base: int  # the first rank of its visible documents, less one

    def segment(self, hidden: bool) -> tuple[int, int]:
        """The ranks of its visible or hidden documents: lower bound exclusive, upper bound exclusive."""
        low = self.base + (HIDDEN_RANK if hidden else 0)
        return low, low + PACK_RANK


PRODUCTS = SearchPart("search_fts", ("vtm", "vmp", "amp", "vmpp"), "main", 0)
PACKS = SearchPart("pack_fts", ("ampp",), PACKS_SCHEMA, PACK_RANK)
SEARCH_PARTS = (PRODUCTS, PACKS)

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

_FTS_OPTIONS = "text, content='', detail=none, columnsize=0, tokenize=\"unicode61 remove_diacritics 2 tokenchars '§'\""


def search_schema(part: SearchPart) -> tuple[str, ...]:
    """The documents table and the FTS5 table of one part, created in the file that holds that part."""
    return (
        """CREATE TABLE search_doc (
            rank INTEGER PRIMARY KEY, kind INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL, status TEXT,
            extra TEXT)""",
        f"CREATE VIRTUAL TABLE {part.fts} USING fts5({_FTS_OPTIONS})",
    )


def table_of(kind: str) -> str:
    return _DOCS[kind][0]


def part_tables(part: SearchPart) -> set[str]:
    return {table_of(kind) for kind in part.kinds}


def build_search_part(conn: sqlite3.Connection, part: SearchPart) -> None:
    """Add the part's documents (its product tables are loaded) and index them in its FTS5 table."""
    for hidden in (False, True):
        low, high = part.segment(hidden)
        for kind in part.kinds:
            last = conn.execute("SELECT max(rank) FROM search_doc WHERE rank > ? AND rank < ?", (low, high))
            _add_documents(conn, kind, hidden, last.fetchone()[0] or low)
        # The marker is glued to the name a second time: the tokenizer splits it exactly as it splits the name, so
        # the marked token is the first word ("Co-codamol 30mg" -> "§co", "codamol", "30mg") and the other words
        # are ones the document has already. Leading brackets and quotes go first ("(Generic) X" -> "§generic"),
        # trimmed only where there are any: trimming every name costs more than the second copy.
        conn.execute(
            f"INSERT INTO {part.fts} (rowid, text) "
            f"SELECT rank, name || ' ' || coalesce(extra, '') || ' {NAME_START_MARK}' || "
            f"CASE WHEN unicode(name) IN ({_LEADING_CODES}) THEN ltrim(name, '{_LEADING_SQL}') ELSE name END "
            "FROM search_doc WHERE rank > ? AND rank < ?",
            (low, high),
        )


def _add_documents(conn: sqlite3.Connection, kind: str, hidden: bool, after: int) -> None:
    table, id_col, name_col, extra, status = _DOCS[kind]
    # Ranks only order documents, gaps are fine: the big kinds in release order take their row's rowid (rows are
    # appended in file order), which costs half of what numbering them with row_number() does.
    by_name = f"row_number() OVER (ORDER BY length({name_col}), {name_col})"
    position = by_name if kind in _SORTED_KINDS else "rowid"
    conn.execute(
        "INSERT INTO search_doc (rank, kind, id, name, status, extra) "
        f"SELECT ? + {position}, {KIND_RANK[kind]}, {id_col}, {name_col}, {status}, "
        f"nullif({extra}, '') FROM {table} "
        f"WHERE {name_col} IS NOT NULL AND ({status}) IS {'NOT ' if hidden else ''}NULL",
        (after,),
    )
