"""Pull: each table's rows changed on the server since this workstation last looked (docs/sync.md, "Pull").

Rows come in server order (``$updatedAt``, then ``$id``), a page at a time with ``cursorAfter``, starting a few
seconds before the table's watermark: a write that committed late with an earlier time is not missed, and rows
already taken are simply taken again (merging is idempotent). Each page is merged in one transaction with the
watermark it reaches; a row whose parent is not here yet stops the table there, to be fetched again next time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from appwrite.query import Query

from core.storage.database import Database
from core.storage.models import SyncWatermark
from sync.merge import Merger
from sync.tables import SYNC_TABLES, SyncTable

# Rows per list request (Appwrite allows up to 5000): fewer round trips; each page is merged in one local transaction.
PAGE_SIZE = 1000
OVERLAP = timedelta(seconds=5)
TEAM_COLUMN = "team_id"

# (table, queries) -> the page of rows, each a dict of its columns plus $id and $updatedAt
ListRows = Callable[[str, list[str]], list[dict[str, Any]]]


@dataclass
class PullReport:
    merged: int = 0
    held_back: int = 0  # rows not merged yet (a change of ours waits, or a parent is not here yet)


# Told after each page is merged and committed: (table, rows in the page).
PageDone = Callable[[str, int], None]


def pull_all(
    database: Database,
    team: str,
    list_rows: ListRows,
    now: Callable[[], datetime],
    on_page: PageDone | None = None,
) -> PullReport:
    report = PullReport()
    for table in SYNC_TABLES:
        if table.pull:
            pull_table(database, table, team, list_rows, now, report, on_page)
    return report


def pull_table(
    database: Database,
    table: SyncTable,
    team: str,
    list_rows: ListRows,
    now: Callable[[], datetime],
    report: PullReport,
    on_page: PageDone | None = None,
) -> None:
    with database.reader() as session:
        mark = session.get(SyncWatermark, table.name)
        since = mark.updated_at if mark is not None else ""
    base = [Query.equal(TEAM_COLUMN, [team])]
    if since:
        start = datetime.fromisoformat(since) - OVERLAP
        base.append(Query.greater_than_equal("$updatedAt", start.isoformat(timespec="milliseconds")))
    base += [Query.order_asc("$updatedAt"), Query.order_asc("$id"), Query.limit(PAGE_SIZE)]
    cursor: str | None = None
    while True:
        rows = list_rows(table.name, base + ([Query.cursor_after(cursor)] if cursor else []))
        if not rows:
            return
        stopped = _merge_page(database, table, rows, now(), report)
        if on_page is not None:
            on_page(table.name, len(rows))
        if stopped or len(rows) < PAGE_SIZE:
            return
        cursor = str(rows[-1]["$id"])


def _merge_page(
    database: Database, table: SyncTable, rows: list[dict[str, Any]], now: datetime, report: PullReport
) -> bool:
    """Merge a page; True when a row had to stop the table (its parent is missing)."""
    with database.transaction() as session:
        merger = Merger(session, now, [str(row["$id"]) for row in rows])
        merger.prefetch(table.name, rows)
        mark = session.get(SyncWatermark, table.name)
        if mark is None:
            mark = SyncWatermark(table=table.name, updated_at="", seen_ids="[]")
            session.add(mark)
        seen = set(json.loads(mark.seen_ids))
        stopped = False
        for row in rows:
            why_not = merger.merge(table.name, row)
            if why_not is None:
                report.merged += 1
            else:
                report.held_back += 1
                if why_not.startswith("its "):  # a parent is missing: later rows may depend on this one
                    stopped = True
                    break
            updated_at = str(row["$updatedAt"])
            if updated_at != mark.updated_at:
                mark.updated_at, seen = updated_at, set()
            seen.add(str(row["$id"]))
        mark.seen_ids = json.dumps(sorted(seen))
        merger.finish()
    return stopped


def reset_watermark(database: Database, table: str) -> None:
    """Pull the table whole next time (the after-sync check found it differs from the server)."""
    with database.transaction() as session:
        mark = session.get(SyncWatermark, table)
        if mark is not None:
            session.delete(mark)
