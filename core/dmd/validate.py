"""Checks a freshly built replica before it may replace the one in use.

Broken links in the product hierarchy make the release unusable and stop the import; a loose end elsewhere
(a GTIN for a pack not in the release, a combination-pack component missing) is recorded as a warning.
Each check names the tables it reads, so the builder runs it as soon as they are loaded, while the other process
may still be parsing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

from core.dmd.errors import ValidationError

REQUIRED_NONEMPTY = ("vtm", "vmp", "vmpp", "amp", "ampp", "ing", "lookup")


# A second connection to the same databases, for a check shared out between two threads (see ``LinkCheck.split``).
Reader = Callable[[], sqlite3.Connection]


@dataclass(frozen=True)
class LinkCheck:
    descriptions: tuple[str, ...]  # one per number the query returns
    sql: str  # one row: how many rows break each rule (sums: rows can be counted in shares)
    tables: frozenset[str]
    fatal: bool
    # (table, indexed column) the query reads row by row, without a WHERE: given a second connection, the rows
    # below and from the column's median are checked at once, one share in each thread (SQLite lets go of the GIL).
    split: tuple[str, str] | None = None


def _missing(child: str, col: str, parent: str, pcol: str, what: str, fatal: bool = False) -> LinkCheck:
    return LinkCheck(
        (what,),
        f"SELECT count(*) FROM {child} WHERE {col} IS NOT NULL AND {col} NOT IN (SELECT {pcol} FROM {parent})",
        frozenset({child, parent}),
        fatal,
    )


LINK_CHECKS: tuple[LinkCheck, ...] = (
    _missing("amp", "vpid", "vmp", "vpid", "AMPs whose VMP is missing", fatal=True),
    _missing("vmpp", "vpid", "vmp", "vpid", "VMPPs whose VMP is missing", fatal=True),
    # The pack hierarchy in one pass over the AMPPs (the biggest table).
    LinkCheck(
        (
            "AMPPs whose AMP is missing",
            "AMPPs whose VMPP is missing",
            "AMPPs whose AMP and VMPP belong to different VMPs",
        ),
        "SELECT sum(amp.apid IS NULL), sum(vmpp.vppid IS NULL), sum(amp.vpid != vmpp.vpid) "
        "FROM ampp LEFT JOIN amp USING (apid) LEFT JOIN vmpp USING (vppid)",
        frozenset({"ampp", "amp", "vmpp"}),
        True,
        split=("ampp", "apid"),  # it runs last in a build, when one core would otherwise be idle
    ),
    _missing("vmp", "vtmid", "vtm", "vtmid", "VMPs whose VTM is missing"),
    _missing("vpi", "isid", "ing", "isid", "VMP ingredients whose ingredient is missing"),
    _missing("gtin", "amppid", "ampp", "appid", "GTINs whose pack (AMPP) is missing"),
    LinkCheck(
        ("combination pack contents whose pack is missing",),
        "SELECT count(*) FROM ampp_ccontent WHERE prntappid NOT IN (SELECT appid FROM ampp) "
        "OR chldappid NOT IN (SELECT appid FROM ampp)",
        frozenset({"ampp_ccontent", "ampp"}),
        False,
    ),
    LinkCheck(
        ("virtual combination pack contents whose pack is missing",),
        "SELECT count(*) FROM vmpp_ccontent WHERE prntvppid NOT IN (SELECT vppid FROM vmpp) "
        "OR chldvppid NOT IN (SELECT vppid FROM vmpp)",
        frozenset({"vmpp_ccontent", "vmpp"}),
        False,
    ),
    # Child records of the main entities.
    *(
        _missing(child, col, parent, col, f"{child} records whose {parent} is missing")
        for child, col, parent in (
            ("vpi", "vpid", "vmp"),
            ("ont", "vpid", "vmp"),
            ("dform", "vpid", "vmp"),
            ("droute", "vpid", "vmp"),
            ("control_info", "vpid", "vmp"),
            ("dtinfo", "vppid", "vmpp"),
            ("ap_ing", "apid", "amp"),
            ("lic_route", "apid", "amp"),
            ("ap_info", "apid", "amp"),
            ("pack_info", "appid", "ampp"),
            ("prescrib_info", "appid", "ampp"),
            ("price_info", "appid", "ampp"),
            ("reimb_info", "appid", "ampp"),
        )
    ),
)


class ReplicaValidator:
    """Runs the link checks as their tables become available, then the counts at the end."""

    def __init__(self, release_label: str) -> None:
        self.label = release_label
        self.warnings: list[str] = []
        self._pending = list(LINK_CHECKS)

    def check_links(self, conn: sqlite3.Connection, loaded: set[str], reader: Reader | None = None) -> None:
        """Run every pending check whose tables are all loaded; raise ValidationError on a fatal break."""
        ready = [c for c in self._pending if c.tables <= loaded]
        self._pending = [c for c in self._pending if c not in ready]
        for check in ready:
            if check.split is not None and reader is not None:
                counts = _count_in_two_shares(conn, reader, check)
            else:
                counts = conn.execute(check.sql).fetchone()
            for description, broken in zip(check.descriptions, counts, strict=True):
                if not broken:
                    continue
                message = f"{broken:,} {description}"
                if check.fatal:
                    raise ValidationError(f"{self.label}: the release is inconsistent: {message}.")
                self.warnings.append(message)

    def skip(self, tables: set[str]) -> None:
        """The checks that read only ``tables`` were run elsewhere (in the database those tables came from)."""
        self._pending = [c for c in self._pending if not c.tables <= tables]

    def finish(
        self, conn: sqlite3.Connection, parsed_counts: dict[str, int], reader: Reader | None = None
    ) -> list[str]:
        """Every record read was stored and the release is complete; returns the warnings."""
        for table, parsed in parsed_counts.items():
            stored = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if stored != parsed:
                raise ValidationError(f"{self.label}: {parsed:,} {table} records were read but {stored:,} were stored.")
        empty = [t for t in REQUIRED_NONEMPTY if parsed_counts.get(t, 0) == 0]
        if empty:
            raise ValidationError(f"{self.label}: the release has no {', '.join(empty)} records; it is incomplete.")
        self.check_links(conn, set(parsed_counts), reader)
        return self.warnings


def _count_in_two_shares(conn: sqlite3.Connection, reader: Reader, check: LinkCheck) -> tuple[int, ...]:
    """The check's counts: for the rows below the median of its split column here, for the rest in a thread."""
    assert check.split is not None
    table, column = check.split
    rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    median = conn.execute(f"SELECT {column} FROM {table} ORDER BY {column} LIMIT 1 OFFSET ?", (rows // 2,)).fetchone()
    if median is None or median[0] is None:
        return tuple(n or 0 for n in conn.execute(check.sql).fetchone())
    upper_sql = f"{check.sql} WHERE {table}.{column} >= ?"
    upper: list[tuple[int | None, ...]] = []
    failed: list[BaseException] = []

    def count_upper() -> None:
        try:
            with contextlib.closing(reader()) as other:
                upper.append(other.execute(upper_sql, median).fetchone())
        except BaseException as exc:  # handled in the calling thread
            failed.append(exc)

    thread = threading.Thread(target=count_upper, daemon=True)
    thread.start()
    try:
        lower = conn.execute(f"{check.sql} WHERE {table}.{column} < ? OR {table}.{column} IS NULL", median).fetchone()
    finally:
        thread.join()
    if failed:
        if not isinstance(failed[0], sqlite3.Error):
            raise failed[0]
        # No second connection to be had (a lock, a file system that will not share the file): one thread it is.
        upper = [conn.execute(upper_sql, median).fetchone()]
    return tuple((a or 0) + (b or 0) for a, b in zip(lower, upper[0], strict=True))


def validate_replica(conn: sqlite3.Connection, parsed_counts: dict[str, int], release_label: str) -> list[str]:
    """All checks at once (for a replica built in one go); returns the warnings."""
    return ReplicaValidator(release_label).finish(conn, parsed_counts)
