"""The search index of the replica, built once per release inside the build transaction.

``search_doc`` holds one row per searchable product (VTM, VMP, AMP, VMPP, AMPP) and its ``rank`` (the rowid) is
the default result order: visible before hidden, then VTM, VMP, AMP, VMPP, AMPP, then shorter (more
general) names first. Because FTS5 walks
its matches in rowid order, a type-ahead query stops after the first page instead of sorting every match.
``search_fts`` is contentless (the text lives in the product tables) and stores no positions: prefix matching
of words is all type-ahead needs, and the index stays small and quick to build.
"""

from __future__ import annotations

import sqlite3

KIND_NAMES = ("vtm", "vmp", "amp", "vmpp", "ampp")
KIND_RANK = {name: rank for rank, name in enumerate(KIND_NAMES)}

# Per kind: id column, display name, extra searchable text, and the reason a row is hidden by default
# ('invalid', 'discontinued', 'unavailable'; NULL when shown). Codes from the lookup file (DESIGN.md section 4).
_DOCS = {
    "vtm": ("vtmid", "nm", "coalesce(abbrevnm, '')", "CASE WHEN invalid = 1 THEN 'invalid' END", "vtm"),
    "vmp": (
        "vpid",
        "nm",
        "coalesce(abbrevnm, '') || ' ' || coalesce(nmprev, '')",
        "CASE WHEN invalid = 1 THEN 'invalid' WHEN non_availcd = '0001' THEN 'unavailable' END",
        "vmp",
    ),
    "amp": (
        "apid",
        "desc",
        "coalesce(abbrevnm, '') || ' ' || coalesce(nm_prev, '')",
        "CASE WHEN invalid = 1 THEN 'invalid' WHEN avail_restrictcd = '0009' THEN 'unavailable' END",
        "amp",
    ),
    "vmpp": ("vppid", "nm", "coalesce(abbrevnm, '')", "CASE WHEN invalid = 1 THEN 'invalid' END", "vmpp"),
    "ampp": (
        "appid",
        "nm",
        "coalesce(abbrevnm, '')",
        "CASE WHEN invalid = 1 THEN 'invalid' WHEN disccd = '0001' THEN 'discontinued' END",
        "ampp",
    ),
}

SEARCH_SCHEMA = (
    """CREATE TABLE search_doc (
        rank INTEGER PRIMARY KEY, kind INTEGER NOT NULL, id INTEGER NOT NULL, name TEXT NOT NULL,
        name_key TEXT NOT NULL, status TEXT, extra TEXT)""",
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        text, content='', detail=none, tokenize='unicode61 remove_diacritics 2')""",
)


def _select(kind: str) -> str:
    id_col, name_col, extra, status, table = _DOCS[kind]
    return (
        f"SELECT {KIND_RANK[kind]} AS kind, {id_col} AS id, {name_col} AS name, {status} AS status, "
        f"nullif(trim({extra}), '') AS extra FROM {table} WHERE {name_col} IS NOT NULL"
    )


def build_search_index(conn: sqlite3.Connection) -> int:
    """Fill search_doc and search_fts from the product tables; returns the number of documents."""
    for statement in SEARCH_SCHEMA:
        conn.execute(statement)
    union = " UNION ALL ".join(_select(kind) for kind in KIND_NAMES)
    conn.execute(
        "INSERT INTO search_doc (kind, id, name, name_key, status, extra) "
        f"SELECT kind, id, name, lower(name), status, extra FROM ({union}) "
        "ORDER BY status IS NOT NULL, kind, length(name), lower(name)"
    )
    conn.execute("INSERT INTO search_fts (rowid, text) SELECT rank, name || ' ' || coalesce(extra, '') FROM search_doc")
    # Name-prefix matches are read per kind in name order, visible and hidden apart.
    conn.execute("CREATE INDEX ix_search_doc_prefix ON search_doc (status IS NOT NULL, kind, name_key)")
    conn.execute("CREATE INDEX ix_search_doc_product ON search_doc (id)")
    count: int = conn.execute("SELECT count(*) FROM search_doc").fetchone()[0]
    return count
