"""Catalogue: the read-only API over a built replica, shared by the command line and the GUI."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.dmd.cd_schedule import cd_schedule
from core.dmd.detail import build_detail
from core.dmd.errors import DmdError, NotFoundError, ReplicaMissingError
from core.dmd.gtin import validate_gtin
from core.dmd.layout import attach_files, read_only_uri
from core.dmd.release_info import ReleaseInfo, read_release_info
from core.dmd.schema import BONUS_TABLES, RECORD_TYPES, SCHEMA_VERSION, FieldKind
from core.dmd.search import Searcher, SearchHit
from core.dmd.search_index import KIND_NAMES

# Product tables by kind, with the column holding their id and the one holding their display name.
PRODUCT_TABLES = {
    "vtm": ("vtm", "vtmid", "nm"),
    "vmp": ("vmp", "vpid", "nm"),
    "amp": ("amp", "apid", "desc"),
    "vmpp": ("vmpp", "vppid", "nm"),
    "ampp": ("ampp", "appid", "nm"),
    "ing": ("ing", "isid", "nm"),
}
# One-step previous ids carried in the main release.
PREVIOUS_ID_COLUMNS = (("vtm", "vtmidprev"), ("vmp", "vpidprev"), ("ing", "isidprev"))
# Lookup tables behind the coded columns shown in product detail.
CODE_LOOKUPS = {
    "basiscd": "BASIS_OF_NAME",
    "basis_prevcd": "BASIS_OF_NAME",
    "nmchangecd": "NAMECHANGE_REASON",
    "combprodcd": "COMBINATION_PROD_IND",
    "pres_statcd": "VIRTUAL_PRODUCT_PRES_STATUS",
    "non_availcd": "VIRTUAL_PRODUCT_NON_AVAIL",
    "df_indcd": "DF_INDICATOR",
    "udfs_uomcd": "UNIT_OF_MEASURE",
    "unit_dose_uomcd": "UNIT_OF_MEASURE",
    "basis_strntcd": "BASIS_OF_STRNTH",
    "strnt_nmrtr_uomcd": "UNIT_OF_MEASURE",
    "strnt_dnmtr_uomcd": "UNIT_OF_MEASURE",
    "formcd": "FORM",
    "routecd": "ROUTE",
    "catcd": "CONTROL_DRUG_CATEGORY",
    "cat_prevcd": "CONTROL_DRUG_CATEGORY",
    "qty_uomcd": "UNIT_OF_MEASURE",
    "combpackcd": "COMBINATION_PACK_IND",
    "pay_catcd": "DT_PAYMENT_CATEGORY",
    "suppcd": "SUPPLIER",
    "lic_authcd": "LICENSING_AUTHORITY",
    "lic_auth_prevcd": "LICENSING_AUTHORITY",
    "lic_authchangecd": "LICENSING_AUTHORITY_CHANGE_REASON",
    "flavourcd": "FLAVOUR",
    "avail_restrictcd": "AVAILABILITY_RESTRICTION",
    "uomcd": "UNIT_OF_MEASURE",
    "colourcd": "COLOUR",
    "legal_catcd": "LEGAL_CATEGORY",
    "disccd": "DISCONTINUED_IND",
    "reimb_statcd": "REIMBURSEMENT_STATUS",
    "reimb_statprevcd": "REIMBURSEMENT_STATUS",
    "price_basiscd": "PRICE_BASIS",
    "spec_contcd": "SPEC_CONT",
    "dnd": "DND",
    "ddd_uomcd": "UNIT_OF_MEASURE",
}
# Columns holding SNOMED ids, in any table (the schema says which).
_ID_COLUMNS = frozenset(f.column for rt in RECORD_TYPES for f in rt.fields if f.kind is FieldKind.ID)
# Each product kind's id and the CD category of its VMP (AMPPs through their VMPP).
_VMP_OF = {
    "vmp": "SELECT vpid, catcd FROM control_info WHERE vpid IN ({marks})",
    "amp": "SELECT a.apid, c.catcd FROM amp a JOIN control_info c USING (vpid) WHERE a.apid IN ({marks})",
    "vmpp": "SELECT p.vppid, c.catcd FROM vmpp p JOIN control_info c USING (vpid) WHERE p.vppid IN ({marks})",
    "ampp": "SELECT ap.appid, c.catcd FROM ampp ap JOIN vmpp p ON p.vppid = ap.vppid "
    "JOIN control_info c ON c.vpid = p.vpid WHERE ap.appid IN ({marks})",
}
# Where a column name means another lookup in one table.
CODE_LOOKUP_OVERRIDES = {("ont", "formcd"): "ONT_FORM_ROUTE"}


@dataclass(frozen=True)
class GtinMatch:
    gtin: str  # as in the release (13 or 14 digits)
    ampp_id: int
    ampp_name: str | None
    start_date: str | None
    end_date: str | None

    @property
    def end_dated(self) -> bool:
        return self.end_date is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "gtin": self.gtin,
            "id": str(self.ampp_id),
            "type": "ampp",
            "name": self.ampp_name,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "end_dated": self.end_dated,
        }


@dataclass(frozen=True)
class ResolvedId:
    kind: str
    id: int
    previous_id: int | None  # the id asked for, when it was an old id resolved to this one


def open_replica_connection(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise ReplicaMissingError(
            "There is no medicines catalogue yet: import a dm+d release with `rxdesk dmd import PATH`."
        )
    conn = sqlite3.connect(read_only_uri(path), uri=True, check_same_thread=False)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DmdError(f"{path}: the catalogue file is damaged ({exc}); import the release again.") from exc
    if version != SCHEMA_VERSION:
        conn.close()
        raise DmdError(f"{path}: the catalogue was built by another version of RxDesk; import the release again.")
    try:
        attach_files(conn, path)  # the packs file (layout.py)
    except (DmdError, sqlite3.DatabaseError) as exc:
        conn.close()
        if isinstance(exc, DmdError):
            raise
        raise DmdError(f"{path}: the catalogue's packs file is damaged ({exc}); import the release again.") from exc
    return conn


class Catalogue:
    """Read-only access to the replica: search, lookups by id and barcode, product detail."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_replica_connection(path)
        self.conn.row_factory = sqlite3.Row
        self._searcher = Searcher(self.conn)
        self._lookups: dict[tuple[str, str], str] | None = None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- release -----------------------------------------------------------------------------------------
    def release(self) -> ReleaseInfo:
        return read_release_info(self.conn)

    def counts(self) -> dict[str, int]:
        """Rows per record type, with the summary names of ``rxdesk dmd info``."""

        def count(table: str) -> int:
            return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

        counts = {
            "vtm": count("vtm"),
            "vmp": count("vmp"),
            "vmpp": count("vmpp"),
            "amp": count("amp"),
            "ampp": count("ampp"),
            "gtin": count("gtin"),
            "ingredient": count("ing"),
            "lookup": count("lookup"),
        }
        if self.release().bonus_name:
            counts["bnf"] = count("bnf_vmp") + count("bnf_amp")
            counts["history"] = count("history")
            counts["vtm_ingredient"] = count("vtm_ing")
        return counts

    def table_counts(self) -> dict[str, int]:
        return {
            rt.table: int(self.conn.execute(f"SELECT count(*) FROM {rt.table}").fetchone()[0])
            for rt in RECORD_TYPES
            if rt.table not in BONUS_TABLES or self.release().bonus_name
        }

    def warnings(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT message FROM import_warning")]

    # -- search and lookups -----------------------------------------------------------------------------
    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        include_hidden: bool = False,
        kinds: tuple[str, ...] = KIND_NAMES,
        cd_schedules: frozenset[int] | None = None,
    ) -> list[SearchHit]:
        """Products by name. ``cd_schedules`` keeps only products of those controlled drug schedules (VTMs have
        none: they are left out then)."""
        if cd_schedules is None:
            return self._searcher.search(text, limit=limit, include_hidden=include_hidden, kinds=kinds)
        kinds = tuple(k for k in kinds if k != "vtm")
        # Most names are not controlled drugs: look further, then keep the ones that are.
        hits = self._searcher.search(text, limit=min(limit * 10, 500), include_hidden=include_hidden, kinds=kinds)
        schedules = self._schedules_of(hits)
        return [hit for hit in hits if schedules.get((hit.type, hit.id)) in cd_schedules][:limit]

    def _schedules_of(self, hits: list[SearchHit]) -> dict[tuple[str, int], int | None]:
        """The CD schedule of each hit's VMP."""
        out: dict[tuple[str, int], int | None] = {}
        for kind, sql in _VMP_OF.items():
            ids = [hit.id for hit in hits if hit.type == kind]
            if not ids:
                continue
            marks = ",".join("?" * len(ids))
            for product_id, catcd in self.conn.execute(sql.format(marks=marks), ids):
                out[(kind, int(product_id))] = cd_schedule(catcd) or None
        return out

    def resolve_id(self, product_id: int | str) -> ResolvedId:
        """Find a product by SNOMED id, following previous ids (main release and bonus history) to the current."""
        try:
            wanted = int(str(product_id).strip())
        except ValueError:
            raise NotFoundError(f"{product_id!r} is not a dm+d identifier (a number of up to 18 digits).") from None
        current: int | None = wanted
        seen: set[int] = set()
        while current is not None and current not in seen:
            seen.add(current)
            for kind, (table, id_col, _) in PRODUCT_TABLES.items():
                if self.conn.execute(f"SELECT 1 FROM {table} WHERE {id_col} = ?", (current,)).fetchone():
                    return ResolvedId(kind, current, None if current == wanted else wanted)
            current = self._newer_id(current)
        raise NotFoundError(f"No product, pack or ingredient has the dm+d id {wanted}.")

    def _newer_id(self, old: int) -> int | None:
        for table, prev_col in PREVIOUS_ID_COLUMNS:
            id_col = PRODUCT_TABLES[table][1]
            row = self.conn.execute(f"SELECT {id_col} FROM {table} WHERE {prev_col} = ?", (old,)).fetchone()
            if row:
                return int(row[0])
        row = self.conn.execute(
            "SELECT idcurrent FROM history WHERE idprevious = ? AND idcurrent != idprevious "
            "ORDER BY startdt DESC LIMIT 1",
            (old,),
        ).fetchone()
        return int(row[0]) if row else None

    def find_gtin(self, code: str) -> list[GtinMatch]:
        """The pack(s) with this barcode, end-dated barcodes included (marked). Raises InvalidGtinError."""
        gtin14 = validate_gtin(code)
        rows = self.conn.execute(
            "SELECT g.gtin, g.amppid, a.nm, g.startdt, g.enddt FROM gtin g LEFT JOIN ampp a ON a.appid = g.amppid "
            "WHERE g.gtin14 = ? ORDER BY g.enddt IS NOT NULL, g.startdt DESC",
            (gtin14,),
        ).fetchall()
        return [GtinMatch(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]

    # -- product detail ---------------------------------------------------------------------------------
    def describe(self, table: str, row: sqlite3.Row) -> dict[str, Any]:
        """A record as a dict: ids as strings, coded columns with their lookup description."""
        out: dict[str, Any] = {}
        for col, value in zip(row.keys(), tuple(row), strict=True):
            if value is None:
                continue
            lookup_table = CODE_LOOKUP_OVERRIDES.get((table, col)) or CODE_LOOKUPS.get(col)
            if lookup_table:
                out[col] = {"code": value, "description": self.lookup(lookup_table, str(value))}
            elif col in _ID_COLUMNS:
                out[col] = str(value)  # SNOMED ids reach 18 digits: strings, as JSON readers lose precision
            else:
                out[col] = value
        return out

    def lookup(self, table: str, code: str) -> str:
        """The description of a lookup code; codes missing from the lookup file are shown as unknown."""
        if self._lookups is None:
            self._lookups = {(r[0], r[1]): r[2] for r in self.conn.execute("SELECT type, cd, desc FROM lookup")}
        return self._lookups.get((table, code), f"unknown code {code}")

    def product_detail(self, product_id: int | str) -> dict[str, Any]:
        return build_detail(self, self.resolve_id(product_id))

    def cd_schedule_of_vmp(self, vpid: int) -> int | None:
        row = self.conn.execute("SELECT catcd FROM control_info WHERE vpid = ?", (vpid,)).fetchone()
        return cd_schedule(row[0]) if row else None
