"""Finding the XML files of a dm+d release, inside a zip (nested zips included) or an extracted folder.

Nothing is extracted to disk: each file is opened as a stream straight from the archive. The uncompressed size
declared by the zip directory is capped before anything is read, so a zip bomb is refused up front (zipfile then
never yields more bytes than declared).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from core.dmd.errors import ReleaseError
from core.dmd.schema import BONUS_FILES, MAIN_FILES, ReleaseFile

# A real weekly release is about 250 MB of XML; anything far beyond that is not a dm+d release.
DEFAULT_MAX_UNCOMPRESSED = 3 * 1024**3
_DATE_IN_NAME = re.compile(r"_\d(\d{2})(\d{2})(\d{2})\.xml$", re.IGNORECASE)
_ARCHIVE_NAME = re.compile(r"(nhsbsa_dmd(?:bonus)?)_(\d+\.\d+\.\d+)_(\d{8})", re.IGNORECASE)


@dataclass(frozen=True)
class _Member:
    """Where one XML file lives: a file on disk, or a chain of zip member names inside the zip at ``path``."""

    name: str
    path: Path
    chain: tuple[str, ...] = ()
    size: int = 0


@dataclass
class ReleaseSource:
    """The files of one release (main or bonus), located but not yet read."""

    location: Path
    members: dict[str, _Member] = field(default_factory=dict)  # ReleaseFile.key -> member
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED

    @property
    def label(self) -> str:
        return self.location.name

    def has(self, key: str) -> bool:
        return key in self.members

    def size_of(self, key: str) -> int:
        return self.members[key].size

    def file_name(self, key: str) -> str:
        return self.members[key].name

    def release_date(self) -> str | None:
        """The release date (ISO) from the file names: the XML carries none (DESIGN.md section 4)."""
        match = _ARCHIVE_NAME.search(self.location.name)
        if match:
            d = match.group(3)
            return f"{d[0:4]}-{d[4:6]}-{d[6:8]}"
        for member in self.members.values():
            m = _DATE_IN_NAME.search(member.name)
            if m:
                day, month, year = m.groups()
                return f"20{year}-{month}-{day}"
        return None

    def version(self) -> str | None:
        match = _ARCHIVE_NAME.search(self.location.name)
        return match.group(2) if match else None

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        member = self.members[key]
        if not member.chain:
            with member.path.open("rb") as fh:
                yield fh
            return
        try:
            outer = zipfile.ZipFile(member.path)
            opened = _open_chain(outer, member.chain)
            stream = next(opened)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise ReleaseError(f"{self.label}/{member.name}: the file is damaged ({exc}).") from exc
        try:
            yield stream
        finally:
            opened.close()
            outer.close()

    def sha256(self) -> str:
        """SHA-256 of the archive; of the XML files' names and bytes for an extracted folder."""
        digest = hashlib.sha256()
        if self.location.is_file():
            with self.location.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
            return digest.hexdigest()
        for path in sorted({m.path for m in self.members.values()}):
            digest.update(path.name.encode())
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()


def _open_chain(zf: zipfile.ZipFile, chain: tuple[str, ...]) -> Generator[IO[bytes], None, None]:
    head, *rest = chain
    with zf.open(head) as fh:
        if not rest:
            yield fh
            return
        # zipfile needs a seekable file for the inner archive; the nested zips (GTIN, BNF) are a few MB.
        with zipfile.ZipFile(io.BytesIO(fh.read())) as inner:
            yield from _open_chain(inner, tuple(rest))


def _match(name: str, files: tuple[ReleaseFile, ...]) -> ReleaseFile | None:
    base = name.rsplit("/", 1)[-1].lower()
    if not base.endswith(".xml"):
        return None
    return next((f for f in files if base.startswith(f.prefix)), None)


def _scan_zip(
    zf: zipfile.ZipFile,
    path: Path,
    chain: tuple[str, ...],
    files: tuple[ReleaseFile, ...],
    found: dict[str, _Member],
    depth: int,
    limit: int = DEFAULT_MAX_UNCOMPRESSED,
) -> int:
    """Record the release files in ``zf`` (and in zips nested in it); return the uncompressed bytes declared.

    Stops as soon as the declared total exceeds ``limit``: a nested zip is inflated in memory to be read.
    """
    total = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        total += info.file_size
        if total > limit:
            return total
        if info.filename.lower().endswith(".zip") and depth < 2:
            with zf.open(info) as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as inner:
                total += _scan_zip(inner, path, (*chain, info.filename), files, found, depth + 1, limit - total)
            continue
        rf = _match(info.filename, files)
        if rf is not None and rf.key not in found:
            name = info.filename.rsplit("/", 1)[-1]
            found[rf.key] = _Member(name, path, chain=(*chain, info.filename), size=info.file_size)
    return total


def locate_release(
    location: Path, *, bonus: bool = False, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED
) -> ReleaseSource:
    """Find the files of a main (or, with ``bonus``, a supplementary) release in a zip or a folder."""
    files = BONUS_FILES if bonus else MAIN_FILES
    kind = "supplementary (bonus) release" if bonus else "dm+d release"
    source = ReleaseSource(location, max_uncompressed=max_uncompressed)
    if not location.exists():
        raise ReleaseError(f"{location}: no such file or folder.")
    if location.is_dir():
        total = _scan_folder(location, files, source.members)
    else:
        try:
            with zipfile.ZipFile(location) as zf:
                total = _scan_zip(zf, location, (), files, source.members, 0, max_uncompressed)
        except zipfile.BadZipFile as exc:
            raise ReleaseError(f"{location.name}: not a readable zip archive ({exc}).") from exc
        except (OSError, EOFError, zipfile.LargeZipFile) as exc:
            raise ReleaseError(f"{location.name}: the archive is damaged ({exc}).") from exc
    if total > max_uncompressed:
        raise ReleaseError(
            f"{location.name}: the archive would unpack to at least {_size(total)}, more than the "
            f"{_size(max_uncompressed)} a {kind} can be; refusing it as a possible zip bomb."
        )
    _check_complete(source, files, bonus)
    return source


def _size(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB" if n >= 10 * 1024**2 else f"{n:,} bytes"


def _scan_folder(folder: Path, files: tuple[ReleaseFile, ...], found: dict[str, _Member]) -> int:
    total = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix.lower() == ".zip":
            # A zip inside the folder (the GTIN zip as shipped): its files are read through it.
            with zipfile.ZipFile(path) as zf:
                total += _scan_zip(zf, path, (), files, found, 1)
            continue
        rf = _match(path.name, files)
        if rf is not None and rf.key not in found:
            size = path.stat().st_size
            total += size
            found[rf.key] = _Member(path.name, path, size=size)
    return total


def _check_complete(source: ReleaseSource, files: tuple[ReleaseFile, ...], bonus: bool) -> None:
    name = source.location.name
    if not source.members:
        other = locate_kind(source.location)
        if other == "bonus" and not bonus:
            raise ReleaseError(
                f"{name}: this is a supplementary (bonus) release; give the main dm+d release "
                "(nhsbsa_dmd_….zip) first and the bonus release with --bonus."
            )
        if other == "main" and bonus:
            raise ReleaseError(f"{name}: this is a main dm+d release, not a supplementary (bonus) release.")
        raise ReleaseError(f"{name}: not a dm+d release (none of its XML files were found).")
    if bonus:
        return  # the supplementary files are each optional
    missing = [f.prefix + "….xml" for f in files if f.key not in source.members]
    if missing:
        raise ReleaseError(f"{name}: the release is incomplete; missing {', '.join(missing)}.")


def locate_kind(location: Path) -> str | None:
    """'main', 'bonus' or None: what kind of release a zip or folder holds (for clear error messages)."""
    for files, kind in ((MAIN_FILES, "main"), (BONUS_FILES, "bonus")):
        found: dict[str, _Member] = {}
        try:
            if location.is_dir():
                _scan_folder(location, files, found)
            else:
                with zipfile.ZipFile(location) as zf:
                    _scan_zip(zf, location, (), files, found, 0)
        except (zipfile.BadZipFile, OSError):
            return None
        if found:
            return kind
    return None
