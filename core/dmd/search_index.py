"""The search index of the replica, built once per release.

Every searchable product (VTM, VMP, AMP, VMPP, AMPP) is one document of an FTS5 table, and its rowid (its *rank*)
is the result order: visible before hidden, then VTM, VMP, AMP, VMPP, AMPP. The index comes in two parts, each with
its own FTS5 table: the products (VTM to VMPP, ``search_fts``) in the replica's main file and the packs (AMPP,
``pack_fts``) in its packs file (see layout.py), so that the two processes of a build each index the tables they
parsed (see build.py). A rank carries its place in that order in its high bits (``HIDDEN_RANK``, ``PACK_RANK``,
then the kind at ``KIND_SHIFT``), so each part numbers its own documents and the order holds across parts. FTS5
walks matches in rowid order, so a type-ahead query stops after its first page instead of ranking every match.

Within a kind, the small kinds are ordered shortest name first ("Paracetamol" before "Paracetamol + Caffeine"):
their documents are listed in ``search_doc`` in that order, with their names. The two big ones (AMP, AMPP) keep
release order, as sorting them would cost more than it helps a type-ahead list: a document's rank is then its
product's rowid in its own table, which a search reads directly, so they need no list (and a build writes no copy
of their names). Rowids of a built replica never change: it is only ever read, and never vacuumed (VACUUM may
renumber the rows of a table without an INTEGER PRIMARY KEY).

The FTS tables are contentless and keep no positions (the smallest, quickest index). To tell "the name starts
with what was typed" from "a word somewhere starts with it" without positions, each document also carries its
first word behind a marker (``NAME_START_MARK``), found with one more prefix term.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

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

KIND_SHIFT = 36  # a document's kind, in bits 36-39 of its rank; its position within the kind below
_POSITIONS = (1 << KIND_SHIFT) - 1
PACK_RANK = 1 << 40  # packs after the other products...
HIDDEN_RANK = 1 << 41  # ...and every hidden document after every visible one


def kind_of(rank: int) -> int:
    return (rank >> KIND_SHIFT) & 0xF


@dataclass(frozen=True)
class SearchPart:
    """Documents indexed together in one FTS5 table, from the tables one process of a build loads."""

    fts: str
    kinds: tuple[str, ...]  # in rank order
    schema: str  # the database holding it once the replica is open: "main", or the attached packs file
    base: int  # its first rank, less one

    def segment(self, hidden: bool) -> tuple[int, int]:
        """The ranks of its visible or hidden documents: lower bound exclusive, upper bound exclusive."""
        low = self.base + (HIDDEN_RANK if hidden else 0)
        return low, low + PACK_RANK

    @property
    def listed(self) -> tuple[str, ...]:
        """Its kinds whose documents are listed in ``search_doc``."""
        return tuple(kind for kind in self.kinds if kind in _LISTED_KINDS)


PRODUCTS = SearchPart("search_fts", ("vtm", "vmp", "amp", "vmpp"), "main", 0)
PACKS = SearchPart("pack_fts", ("ampp",), PACKS_SCHEMA, PACK_RANK)
SEARCH_PARTS = (PRODUCTS, PACKS)


@dataclass(frozen=True)
class _Kind:
    """Where a kind's documents come from. ``{t}`` in the expressions stands for its table."""

    table: str
    id_col: str
    name_col: str
    extra: str  # more searchable text: abbreviations, previous names
    status: str  # why a product is hidden by default ('invalid', 'discontinued', 'unavailable'), NULL when shown


# Codes from the lookup file (DESIGN.md section 4).
_KINDS = {
    "vtm": _Kind("vtm", "vtmid", "nm", "{t}.abbrevnm", "CASE WHEN {t}.invalid = 1 THEN 'invalid' END"),
    "vmp": _Kind(
        "vmp",
        "vpid",
        "nm",
        "trim(coalesce({t}.abbrevnm, '') || ' ' || coalesce({t}.nmprev, ''))",
        "CASE WHEN {t}.invalid = 1 THEN 'invalid' WHEN {t}.non_availcd = '0001' THEN 'unavailable' END",
    ),
    "amp": _Kind(
        "amp",
        "apid",
        "desc",
        "trim(coalesce({t}.abbrevnm, '') || ' ' || coalesce({t}.nm_prev, ''))",
        "CASE WHEN {t}.invalid = 1 THEN 'invalid' WHEN {t}.avail_restrictcd = '0009' THEN 'unavailable' END",
    ),
    "vmpp": _Kind("vmpp", "vppid", "nm", "{t}.abbrevnm", "CASE WHEN {t}.invalid = 1 THEN 'invalid' END"),
    "ampp": _Kind(
        "ampp",
        "appid",
        "nm",
        "{t}.abbrevnm",
        "CASE WHEN {t}.invalid = 1 THEN 'invalid' WHEN {t}.disccd = '0001' THEN 'discontinued' END",
    ),
}

_LISTED_KINDS = ("vtm", "vmp", "vmpp")

_FTS_OPTIONS = "text, content='', detail=none, columnsize=0, tokenize=\"unicode61 remove_diacritics 2 tokenchars '§'\""


def search_schema(part: SearchPart) -> tuple[str, ...]:
    """The FTS5 table of one part, and the list of its listed documents, in the file that holds that part."""
    fts = f"CREATE VIRTUAL TABLE {part.fts} USING fts5({_FTS_OPTIONS})"
    if not part.listed:
        return (fts,)
    listing = (
        "CREATE TABLE search_doc "
        "(rank INTEGER PRIMARY KEY, id INTEGER NOT NULL, name TEXT NOT NULL, status TEXT, extra TEXT)"
    )
    return (listing, fts)


def table_of(kind: str) -> str:
    return _KINDS[kind].table


def part_tables(part: SearchPart) -> set[str]:
    return {table_of(kind) for kind in part.kinds}


def build_search_part(conn: sqlite3.Connection, part: SearchPart) -> None:
    """Index the part's documents (its product tables are loaded) in its FTS5 table, listing those of its small
    kinds in ``search_doc`` first."""
    for hidden in (False, True):
        low, _high = part.segment(hidden)
        for kind in part.kinds:
            k = _KINDS[kind]
            start = low + (KIND_RANK[kind] << KIND_SHIFT)
            shown = f"({k.status.format(t=k.table)}) IS {'NOT ' if hidden else ''}NULL"
            if kind in _LISTED_KINDS:
                conn.execute(
                    "INSERT INTO search_doc (rank, id, name, status, extra) "
                    f"SELECT ? + row_number() OVER (ORDER BY length({k.name_col}), {k.name_col}), {k.id_col}, "
                    f"{k.name_col}, {k.status.format(t=k.table)}, nullif({k.extra.format(t=k.table)}, '') "
                    f"FROM {k.table} WHERE {k.name_col} IS NOT NULL AND {shown}",
                    (start,),
                )
                conn.execute(
                    f"INSERT INTO {part.fts} (rowid, text) SELECT rank, {_document_text('name', 'extra')} "
                    "FROM search_doc WHERE rank > ? AND rank <= ?",
                    (start, start + _POSITIONS),
                )
            else:
                name = f"{k.table}.{k.name_col}"
                conn.execute(
                    f"INSERT INTO {part.fts} (rowid, text) "
                    f"SELECT ? + rowid, {_document_text(name, k.extra.format(t=k.table))} "
                    f"FROM {k.table} WHERE {name} IS NOT NULL AND {shown}",
                    (start,),
                )


def _document_text(name: str, extra: str) -> str:
    """SQL for the text a document is indexed by: its name, its first word marked, and its extra text.

    The marker is glued to the front of the name, so the tokenizer makes the first word one marked token
    ("Co-codamol 30mg" -> "§co", "codamol", "30mg"): a name is tokenized once, and its first word is found as a
    word anywhere with one more prefix term (search.py). Leading brackets and quotes go first ("(Generic) X" ->
    "§generic", "x"), trimmed only where there are any.
    """
    return (
        f"'{NAME_START_MARK}' || "
        f"CASE WHEN unicode({name}) IN ({_LEADING_CODES}) THEN ltrim({name}, '{_LEADING_SQL}') ELSE {name} END"
        f" || ' ' || coalesce({extra}, '')"
    )


@dataclass(frozen=True)
class CandidateQuery:
    """SQL for the documents of a part that match an FTS5 expression, in rank order within a rank range.

    Parameters: the expression, the lower and the upper rank bound (both exclusive). Each row is the rank, then
    (id, name, status, extra) of the listed document and of each big kind's product: only the group of the
    document's own kind is filled (see ``document``).
    """

    sql: str
    offsets: dict[int, int]  # kind rank -> the first column of its group

    def document(self, row: tuple[Any, ...]) -> tuple[int, int, str, str | None, str | None]:
        """(kind rank, id, name, status, extra) of a row."""
        kind = kind_of(row[0])
        at = self.offsets[kind]
        return kind, row[at], row[at + 1], row[at + 2], row[at + 3]


def candidate_query(part: SearchPart, kinds: tuple[str, ...]) -> CandidateQuery:
    """The query of ``part`` for documents of the ``kinds`` asked for (all of the part's, or some)."""
    schema, fts = part.schema, part.fts
    columns = ["f.rowid"]
    joins = []
    offsets: dict[int, int] = {}
    if part.listed:
        joins.append(f"LEFT JOIN {schema}.search_doc d ON d.rank = f.rowid")
        offsets |= {KIND_RANK[kind]: 1 for kind in part.listed}
        columns += ["d.id", "d.name", "d.status", "d.extra"]
    for kind in part.kinds:
        if kind in _LISTED_KINDS:
            continue
        k, alias = _KINDS[kind], f"p{KIND_RANK[kind]}"
        # Joined to documents of this kind only: the low bits of such a rank are the product's rowid.
        joins.append(
            f"LEFT JOIN {schema}.{k.table} {alias} ON ((f.rowid >> {KIND_SHIFT}) & 15) = {KIND_RANK[kind]} "
            f"AND {alias}.rowid = (f.rowid & {_POSITIONS})"
        )
        offsets[KIND_RANK[kind]] = len(columns)
        # Status and extra text only for its own documents: they cost string work on every row otherwise.
        columns += [
            f"{alias}.{k.id_col}",
            f"{alias}.{k.name_col}",
            f"CASE WHEN {alias}.rowid IS NOT NULL THEN {k.status.format(t=alias)} END",
            f"CASE WHEN {alias}.rowid IS NOT NULL THEN nullif({k.extra.format(t=alias)}, '') END",
        ]
    wanted = [KIND_RANK[kind] for kind in part.kinds if kind in kinds]
    kind_filter = ""
    if len(wanted) < len(part.kinds):
        kind_filter = f" AND ((f.rowid >> {KIND_SHIFT}) & 15) IN ({','.join(map(str, wanted))})"
    sql = (
        f"SELECT {', '.join(columns)} FROM {schema}.{fts} f {' '.join(joins)} "
        f"WHERE {fts} MATCH ? AND f.rowid > ? AND f.rowid < ?{kind_filter} ORDER BY f.rowid"
    )
    return CandidateQuery(sql, offsets)


def document_counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(visible, all) searchable documents of an open replica."""
    visible = everything = 0
    for part in SEARCH_PARTS:
        for kind in part.kinds:
            k = _KINDS[kind]
            shown, total = conn.execute(
                f"SELECT count(*) FILTER (WHERE ({k.status.format(t=k.table)}) IS NULL), count(*) "
                f"FROM {part.schema}.{k.table} WHERE {k.name_col} IS NOT NULL"
            ).fetchone()
            visible += shown
            everything += total
    return visible, everything
