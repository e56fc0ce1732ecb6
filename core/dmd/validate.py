"""Checks a freshly built replica before it may replace the one in use.

Broken links in the product hierarchy make the release unusable and stop the import; a loose end elsewhere
(a GTIN for a pack not in the release, a combination-pack component missing) is recorded as a warning.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from core.dmd.errors import ValidationError

REQUIRED_NONEMPTY = ("vtm", "vmp", "vmpp", "amp", "ampp", "ing", "lookup")


@dataclass(frozen=True)
class LinkCheck:
    description: str
    sql: str  # counts the rows that break the rule
    fatal: bool


LINK_CHECKS: tuple[LinkCheck, ...] = (
    LinkCheck("AMPs whose VMP is missing", "SELECT count(*) FROM amp WHERE vpid NOT IN (SELECT vpid FROM vmp)", True),
    LinkCheck("VMPPs whose VMP is missing", "SELECT count(*) FROM vmpp WHERE vpid NOT IN (SELECT vpid FROM vmp)", True),
    LinkCheck(
        "VMPs whose VTM is missing",
        "SELECT count(*) FROM vmp WHERE vtmid IS NOT NULL AND vtmid NOT IN (SELECT vtmid FROM vtm)",
        False,
    ),
    LinkCheck(
        "VMP ingredients whose ingredient is missing",
        "SELECT count(*) FROM vpi WHERE isid NOT IN (SELECT isid FROM ing)",
        False,
    ),
    LinkCheck(
        "GTINs whose pack (AMPP) is missing",
        "SELECT count(*) FROM gtin WHERE amppid NOT IN (SELECT appid FROM ampp)",
        False,
    ),
    LinkCheck(
        "combination pack contents whose pack is missing",
        "SELECT count(*) FROM ampp_ccontent WHERE prntappid NOT IN (SELECT appid FROM ampp) "
        "OR chldappid NOT IN (SELECT appid FROM ampp)",
        False,
    ),
    LinkCheck(
        "virtual combination pack contents whose pack is missing",
        "SELECT count(*) FROM vmpp_ccontent WHERE prntvppid NOT IN (SELECT vppid FROM vmpp) "
        "OR chldvppid NOT IN (SELECT vppid FROM vmpp)",
        False,
    ),
)

# The pack hierarchy in one pass over the AMPPs (the biggest table): each sum counts one kind of broken link.
AMPP_LINKS_SQL = (
    "SELECT sum(amp.apid IS NULL), sum(vmpp.vppid IS NULL), sum(amp.vpid != vmpp.vpid) "
    "FROM ampp LEFT JOIN amp USING (apid) LEFT JOIN vmpp USING (vppid)"
)
AMPP_LINKS = (
    "AMPPs whose AMP is missing",
    "AMPPs whose VMPP is missing",
    "AMPPs whose AMP and VMPP belong to different VMPs",
)

# Child records of the main entities: (table, id column, parent table, parent id column).
CHILD_LINKS = (
    ("vpi", "vpid", "vmp", "vpid"),
    ("ont", "vpid", "vmp", "vpid"),
    ("dform", "vpid", "vmp", "vpid"),
    ("droute", "vpid", "vmp", "vpid"),
    ("control_info", "vpid", "vmp", "vpid"),
    ("dtinfo", "vppid", "vmpp", "vppid"),
    ("ap_ing", "apid", "amp", "apid"),
    ("lic_route", "apid", "amp", "apid"),
    ("ap_info", "apid", "amp", "apid"),
    ("pack_info", "appid", "ampp", "appid"),
    ("prescrib_info", "appid", "ampp", "appid"),
    ("price_info", "appid", "ampp", "appid"),
    ("reimb_info", "appid", "ampp", "appid"),
)


def validate_replica(conn: sqlite3.Connection, parsed_counts: dict[str, int], release_label: str) -> list[str]:
    """Raise ValidationError for an unusable release; return warnings for loose ends."""
    for table, parsed in parsed_counts.items():
        stored = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if stored != parsed:
            raise ValidationError(f"{release_label}: {parsed:,} {table} records were read but {stored:,} were stored.")
    empty = [t for t in REQUIRED_NONEMPTY if parsed_counts.get(t, 0) == 0]
    if empty:
        raise ValidationError(f"{release_label}: the release has no {', '.join(empty)} records; it is incomplete.")
    broken_packs = conn.execute(AMPP_LINKS_SQL).fetchone()
    for description, broken in zip(AMPP_LINKS, broken_packs, strict=True):
        if broken:
            raise ValidationError(f"{release_label}: the release is inconsistent: {broken:,} {description}.")
    warnings = []
    checks = list(LINK_CHECKS) + [
        LinkCheck(
            f"{child} records whose {parent} is missing",
            f"SELECT count(*) FROM {child} WHERE {col} NOT IN (SELECT {pcol} FROM {parent})",
            False,
        )
        for child, col, parent, pcol in CHILD_LINKS
    ]
    for check in checks:
        broken = conn.execute(check.sql).fetchone()[0]
        if not broken:
            continue
        message = f"{broken:,} {check.description}"
        if check.fatal:
            raise ValidationError(f"{release_label}: the release is inconsistent: {message}.")
        warnings.append(message)
    return warnings
