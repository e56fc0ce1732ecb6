"""SQL for the replica, derived from the schema description (plus the few tables the builder adds)."""

from __future__ import annotations

from core.dmd.layout import REPLICA_FILE_TABLE, main_tables, pack_tables
from core.dmd.schema import RECORD_TYPES, FieldKind, RecordType
from core.dmd.search_index import PACKS, PRODUCTS, search_schema

# Main entities keyed by their SNOMED id. Rows are appended in file order and the unique index is built after the
# load: inserting into a B-tree keyed by (unordered) SNOMED ids costs several times more than sorting once.
PRIMARY_KEYS = {"vtm": "vtmid", "vmp": "vpid", "vmpp": "vppid", "amp": "apid", "ampp": "appid", "ing": "isid"}

# Secondary indexes: every link the detail view, the validation and the id/barcode lookups follow.
INDEXES: dict[str, tuple[str, ...]] = {
    "vtm": ("vtmidprev",),
    "vmp": ("vtmid", "vpidprev"),
    "vpi": ("vpid", "isid"),
    "ont": ("vpid",),
    "dform": ("vpid",),
    "droute": ("vpid",),
    "control_info": ("vpid",),
    "vmpp": ("vpid",),
    "dtinfo": ("vppid",),
    "vmpp_ccontent": ("prntvppid", "chldvppid"),
    "amp": ("vpid",),
    "ap_ing": ("apid", "isid"),
    "lic_route": ("apid",),
    "ap_info": ("apid",),
    # (apid, vppid) covers the check that an AMPP's AMP and VMPP share a VMP: it reads no AMPP rows.
    "ampp": ("apid, vppid", "vppid"),
    "pack_info": ("appid",),
    "prescrib_info": ("appid",),
    "price_info": ("appid",),
    "reimb_info": ("appid",),
    "ampp_ccontent": ("prntappid", "chldappid"),
    "ing": ("isidprev",),
    "lookup": ("type, cd",),
    "gtin": ("gtin14", "amppid"),
    "bnf_vmp": ("vpid",),
    "bnf_amp": ("apid",),
    "history": ("idprevious", "idcurrent"),
    "vtm_ing": ("vtmid", "isid"),
}

META_TABLE = """CREATE TABLE release_meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID"""
WARNING_TABLE = """CREATE TABLE import_warning (file TEXT, message TEXT)"""


def create_table_sql(rt: RecordType) -> str:
    cols = []
    if rt.discriminator:
        cols.append(f"{rt.discriminator} TEXT NOT NULL")
    for f in rt.fields:
        decl = f"{f.column} {f.kind.sql_type}"
        if f.required and f.kind is FieldKind.ID:
            decl += " NOT NULL"  # a record without its id cannot be linked: refuse the release
        cols.append(decl)
    cols.extend(f"{c} TEXT" for c in rt.derived_columns)
    return f"CREATE TABLE {rt.table} ({', '.join(cols)})"


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def main_file_statements() -> list[str]:
    """The replica's main file: every table but the packs', the release's details and the products' search."""
    tables = main_tables()
    return [
        *(create_table_sql(rt) for rt in RECORD_TYPES if rt.table in tables),
        META_TABLE,
        WARNING_TABLE,
        REPLICA_FILE_TABLE,
        *search_schema(PRODUCTS),
    ]


def packs_file_statements() -> list[str]:
    """The replica's packs file (layout.py): the packs' tables and the packs' search."""
    tables = pack_tables()
    return [*(create_table_sql(rt) for rt in RECORD_TYPES if rt.table in tables), *search_schema(PACKS)]


def index_statements(table: str) -> list[str]:
    statements = []
    if table in PRIMARY_KEYS:
        statements.append(f"CREATE UNIQUE INDEX pk_{table} ON {table} ({PRIMARY_KEYS[table]})")
    for cols in INDEXES.get(table, ()):
        statements.append(f"CREATE INDEX ix_{table}_{cols.replace(', ', '_')} ON {table} ({cols})")
    return statements
