"""Everything a replica needs once rows are loaded: indexes, the search index and the link checks.

Each step runs once, as soon as the tables it needs are loaded, in whichever process loaded them: the build's
parse worker finishes the pack tables in its own database while this process finishes the rest (build.py).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from core.dmd import ddl
from core.dmd.schema import RECORD_TYPES_BY_TABLE
from core.dmd.search_index import SEARCH_PARTS, SearchPart, build_search_part, part_tables
from core.dmd.validate import Reader, ReplicaValidator

log = logging.getLogger(__name__)

Stage = Callable[[str], None]


class Finisher:
    """Indexes, search documents and link checks of one database, each done once, when its tables are loaded."""

    def __init__(self, conn: sqlite3.Connection, label: str, stage: Stage | None = None) -> None:
        self.conn = conn
        self.loaded: set[str] = set()
        self.validator = ReplicaValidator(label)
        self._parts_pending = list(SEARCH_PARTS)
        self._stage = stage or (lambda _name: None)

    @property
    def warnings(self) -> list[str]:
        return self.validator.warnings

    def advance(self, tables: set[str], reader: Reader | None = None) -> None:
        """``tables`` are loaded too: finish everything that now can be."""
        started = time.perf_counter()
        self._stage("Indexing")
        for table in sorted(tables - self.loaded):
            for statement in ddl.index_statements(table):
                self.conn.execute(statement)
        self.loaded |= tables
        indexed = time.perf_counter()
        self._stage("Building the search index")
        for part in self._ready_parts():
            build_search_part(self.conn, part)
        searchable = time.perf_counter()
        self._stage("Validating")
        self.validator.check_links(self.conn, self.loaded, reader)
        log.debug(
            "indexes %.2fs, search %.2fs, checks %.2fs",
            indexed - started,
            searchable - indexed,
            time.perf_counter() - searchable,
        )

    def adopt(self, tables: set[str]) -> list[SearchPart]:
        """``tables`` arrive finished from another database (indexed, their search part built, their own links
        checked): mark them so, and return the search parts that came with them."""
        self.loaded |= tables
        self.validator.skip(tables)
        adopted = [part for part in self._parts_pending if part_tables(part) <= tables]
        self._parts_pending = [part for part in self._parts_pending if part not in adopted]
        return adopted

    def finish(self, parsed_counts: dict[str, int], reader: Reader | None = None) -> list[str]:
        """The last steps, once every table is loaded; ``reader`` lets the biggest check use a second thread."""
        self.advance(set(RECORD_TYPES_BY_TABLE), reader)  # tables of files a release lacks are empty, not missing
        return self.validator.finish(self.conn, parsed_counts, reader)

    def _ready_parts(self) -> list[SearchPart]:
        ready = [part for part in self._parts_pending if part_tables(part) <= self.loaded]
        self._parts_pending = [part for part in self._parts_pending if part not in ready]
        return ready
