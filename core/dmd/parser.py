"""Streaming parser of one dm+d XML file into rows of the replica tables.

lxml ``iterparse`` with a tag filter hands over one record element at a time, so Python only ever sees record
elements; the records handled so far are dropped every few hundred records, so memory stays flat however large the
file. Values are passed through as text: SQLite column affinity turns ids, flags (``1``/``0001``) and numbers into
integers and reals, and leaves codes such as ``0001`` untouched (see schema.py).

Rows are batched by *shape*, the columns a record actually has: optional fields are simply absent in the XML, and
inserting only the present columns binds no NULLs (Python's sqlite3 binds each None through its adapter lookup,
which made NULL-heavy rows several times slower to insert than the parse itself).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import IO, Any

from lxml import etree

from core.dmd.errors import ReleaseError
from core.dmd.schema import HISTORY_SECTIONS, LOOKUP_TABLES, RecordType, ReleaseFile, record_types_for

Row = tuple[Any, ...]
Columns = tuple[str, ...]
RowSink = Callable[[str, Columns, list[Row]], None]  # (table, columns, rows)
BATCH_ROWS = 4096
MAX_PENDING_ROWS = 16384
_CLEAR_EVERY = 256
_TAG = attrgetter("tag")
_TEXT = attrgetter("text")
# Sections holding records whose schema section is the record's own parent (GTIN file: AMPPS > AMPP > GTINDATA).
_EXTRA_SECTIONS = {"gtin": frozenset({"AMPPS"})}


class _Batch:
    """Rows of one shape (table and the columns present) waiting to be handed to the sink."""

    __slots__ = ("columns", "keep", "rows", "sectioned", "table")

    def __init__(self, table: str, columns: Columns, keep: tuple[int, ...] | None, sectioned: bool) -> None:
        self.table = table
        self.columns = columns
        self.keep = keep  # positions of the fields kept, when the shape has unknown or repeated ones
        self.sectioned = sectioned  # the row starts with its section's name (lookup table, history kind)
        self.rows: list[Row] = []


@dataclass
class ParseStats:
    records: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class _CountingReader:
    """File wrapper that reports bytes read, for progress."""

    def __init__(self, raw: IO[bytes], on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if self._on_bytes is not None and data:
            self._on_bytes(len(data))
        return data


def normalise_gtin(text: str | None) -> str | None:
    """GTINs occur as 13 and 14 digits for the same pack (DESIGN.md section 4): look them up as 14 digits."""
    if text is None:
        return None
    digits = text.strip()
    if not digits.isdigit() or len(digits) > 14:
        return None
    return digits.zfill(14)


def parse_release_file(
    stream: IO[bytes],
    rf: ReleaseFile,
    file_name: str,
    sink: RowSink,
    *,
    on_bytes: Callable[[int], None] | None = None,
) -> ParseStats:
    """Parse one release file, handing rows to ``sink(table, columns, rows)`` in batches. Raises ReleaseError."""
    record_types = record_types_for(rf.key)
    stats = ParseStats(records={rt.table: 0 for rt in record_types})
    parser = _FileParser(rf, file_name, record_types, sink, stats)
    reader = _CountingReader(stream, on_bytes)
    try:
        parser.run(reader)
    except etree.XMLSyntaxError as exc:
        where = "" if f"line {exc.lineno}" in exc.msg else f", line {exc.lineno}"
        raise ReleaseError(f"{file_name}: malformed XML ({exc.msg}{where}).") from exc
    except (EOFError, OSError, zipfile.BadZipFile, zlib.error) as exc:
        # A damaged zip member surfaces while streaming: bad CRC, truncated deflate data, short read.
        raise ReleaseError(f"{file_name}: the file is damaged or truncated ({exc}).") from exc
    return stats


class _FileParser:
    def __init__(
        self,
        rf: ReleaseFile,
        file_name: str,
        record_types: tuple[RecordType, ...],
        sink: RowSink,
        stats: ParseStats,
    ) -> None:
        self.rf = rf
        self.file_name = file_name
        self.sink = sink
        self.stats = stats
        self.batches: list[_Batch] = []
        self.gtin_batch = _Batch("gtin", ("amppid", "gtin", "startdt", "enddt", "gtin14"), None, False)
        if rf.key == "gtin":
            self.batches.append(self.gtin_batch)
        self.warned: set[str] = set()
        if rf.key == "lookup":
            self.by_tag = {"INFO": record_types[0]}
        elif rf.key == "history":
            self.by_tag = {tag: record_types[0] for tag in HISTORY_SECTIONS.values()}
        elif rf.key == "gtin":
            self.by_tag = {"AMPP": record_types[0]}
        else:
            self.by_tag = {rt.tag: rt for rt in record_types}
        self.known_tags = {tag: frozenset(rt.tags) for tag, rt in self.by_tag.items()}

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            self.stats.warnings.append(f"{self.file_name}: {message}")

    def flush(self, batch: _Batch) -> None:
        if batch.rows:
            self.sink(batch.table, batch.columns, batch.rows)
            self.stats.records[batch.table] += len(batch.rows)
            batch.rows = []

    def run(self, reader: _CountingReader) -> None:
        context = etree.iterparse(
            reader,
            events=("end",),
            tag=tuple(self.by_tag),
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
        )
        # This loop runs for every record of the release, so it stays flat: no method call, property, proxy or
        # hashing it can avoid. ``shapes[tag][field tags present]`` is the batch that rows of that shape go to.
        is_gtin = self.rf.key == "gtin"
        shapes: dict[str, dict[tuple[str, ...], _Batch]] = {tag: {} for tag in self.by_tag}
        since_clear = 0
        checked_root = False
        for _, elem in context:
            if not checked_root:
                if elem.getparent() is None:
                    continue  # the root happens to share a record tag: never a record
                self._check_root(elem)
                checked_root = True
            if is_gtin:
                self._gtin(elem)
            else:
                # One list of the field elements, read twice at C speed: creating each element's Python proxy
                # once, and map() over it, costs less than a dict comprehension over the record.
                children = elem[:]
                fields = tuple(map(_TAG, children))
                by_fields = shapes[elem.tag]
                batch = by_fields.get(fields)
                if batch is None:
                    batch = by_fields[fields] = self._batch(elem.tag, fields)
                row = tuple(map(_TEXT, children))
                if batch.keep is not None:
                    row = tuple(row[i] for i in batch.keep)
                if batch.sectioned:
                    row = (self._section(elem, batch.table), *row)
                rows = batch.rows
                rows.append(row)
                if len(rows) >= BATCH_ROWS:
                    self.flush(batch)
            since_clear += 1
            if since_clear >= _CLEAR_EVERY:
                # Drop the records already handled. Only earlier siblings: the parser may have read ahead, and
                # records after this one can already be in the tree with their events still queued.
                parent = elem.getparent()
                if parent is not None:
                    del parent[: parent.index(elem) + 1]
                # Rare shapes fill their batches slowly: bound the rows held in memory across all of them.
                if sum(len(b.rows) for b in self.batches) >= MAX_PENDING_ROWS:
                    for pending in self.batches:
                        self.flush(pending)
                since_clear = 0
        root_el = context.root
        if not checked_root:
            tag = root_el.tag if root_el is not None else None
            if tag != self.rf.root:
                raise ReleaseError(f"{self.file_name}: not a dm+d {self.rf.key} file (root element <{tag}>).")
        self._warn_unknown_sections(root_el)
        for batch in self.batches:
            self.flush(batch)

    def _batch(self, tag: str, fields: tuple[Any, ...]) -> _Batch:
        """The batch for records of a new shape; fields the schema does not know are warned about and dropped, and
        of a field given twice the last value is kept."""
        rt = self.by_tag[tag]
        known = self.known_tags[tag]
        present = list(fields)
        last = {t: i for i, t in enumerate(present) if t in known}
        keep = sorted(last.values())
        if len(keep) != len(present):
            self._unknown(tag, fields)
            for repeated in sorted({t for t in last if present.count(t) > 1}):
                self.warn(f"field <{repeated}> repeated in <{tag}>: the last value kept")
        columns = tuple(present[i].lower() for i in keep)
        if rt.discriminator:
            columns = (rt.discriminator, *columns)
        batch = _Batch(
            rt.table, columns, None if len(keep) == len(present) else tuple(keep), rt.discriminator is not None
        )
        self.batches.append(batch)
        return batch

    def _check_root(self, elem: Any) -> None:
        root = elem
        while root.getparent() is not None:
            root = root.getparent()
        if root.tag != self.rf.root:
            raise ReleaseError(
                f"{self.file_name}: not a dm+d {self.rf.key} file (root element <{root.tag}>, "
                f"expected <{self.rf.root}>)."
            )

    def _section(self, elem: Any, table: str) -> str:
        """The enclosing section: it names the lookup table or the history kind of the record."""
        section: str = elem.getparent().tag
        if table == "lookup" and section not in LOOKUP_TABLES:
            self.warn(f"unknown lookup table <{section}> (kept)")
        elif table == "history" and section not in HISTORY_SECTIONS:
            self.warn(f"unknown history section <{section}> (kept)")
        return section

    def _warn_unknown_sections(self, root: Any) -> None:
        """The tag filter skips sections the schema does not know: record a warning instead of dropping silently."""
        sections = {rt.section for rt in self.by_tag.values()}
        if root is None or "*" in sections:
            return  # lookup and history files: unknown sections are warned about per record
        known = sections | set(self.by_tag) | _EXTRA_SECTIONS.get(self.rf.key, frozenset())
        for child in root:
            if isinstance(child.tag, str) and child.tag not in known:
                self.warn(f"unknown section <{child.tag}> ignored")

    def _unknown(self, record_tag: str, fields: tuple[Any, ...]) -> None:
        for tag in fields:
            if isinstance(tag, str) and tag not in self.known_tags[record_tag]:
                self.warn(f"unknown field <{tag}> in <{record_tag}> ignored")

    def _gtin(self, elem: Any) -> None:
        """One AMPP of the GTIN file: its id and any number of GTINDATA children, one row each."""
        amppid = None
        gtins = []
        for child in elem:
            if child.tag == "AMPPID":
                amppid = child.text
            elif child.tag == "GTINDATA":
                values = {c.tag: c.text for c in child}
                gtins.append(values)
            elif isinstance(child.tag, str):
                self.warn(f"unknown field <{child.tag}> in <AMPP> ignored")
        for g in gtins:
            code = g.get("GTIN")
            gtin14 = normalise_gtin(code)
            if gtin14 is None:
                self.warn(f"GTIN {code!r} of AMPP {amppid} is not 8-14 digits (kept, not searchable)")
            self.gtin_batch.rows.append((amppid, code, g.get("STARTDT"), g.get("ENDDT"), gtin14))
        if len(self.gtin_batch.rows) >= BATCH_ROWS:
            self.flush(self.gtin_batch)
