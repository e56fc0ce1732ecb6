"""Weekly dm+d catalogue update from NHS TRUD (API v1).

TRUD puts the account's API key in every URL, download links included, so the key is a secret that travels
in the path. Three things keep it out of logs, exceptions and reprs:

* httpx only ever sees URLs with the key replaced by a placeholder; ``_KeyVault`` (a transport wrapper) puts
  the real key back only on the request handed to the network, and takes it out of redirect ``Location``
  headers on the way back. httpx's own ``HTTP Request: GET <url>`` log line, ``response.url`` and
  ``exc.request`` therefore never hold it.
* httpcore's DEBUG trace logs raw response headers (a redirect's ``Location``) before the vault sees them,
  so its loggers get a filter that redacts ``/keys/<anything>`` paths.
* Error messages are fixed sentences, never server text (TRUD's own 404 message quotes the key) nor httpx
  exception text, and are raised ``from None``.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx

from core.errors import RxDeskError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://isd.digital.nhs.uk"
MAIN_ITEM: Final = 24
BONUS_ITEM: Final = 25
ITEM_NAMES: Final[dict[int, str]] = {MAIN_ITEM: "NHSBSA dm+d", BONUS_ITEM: "NHSBSA dm+d supplementary"}
SET_KEY_COMMAND: Final = "rxdesk dmd set-trud-key"

Progress = Callable[[int, int], None]
T = TypeVar("T")


# -------------------------------------------------------------------------------- errors


class TrudError(RxDeskError):
    """A TRUD update failed; ``str()`` is one sentence fit to show a user. Never contains the API key."""


class TrudKeyInvalidError(TrudError):
    def __init__(self) -> None:
        super().__init__(
            "The TRUD API key is not valid; copy it from your TRUD account page "
            f"and enter it again with `{SET_KEY_COMMAND}`."
        )


class TrudKeyChangedError(TrudError):
    def __init__(self) -> None:
        super().__init__(
            "The TRUD API key has changed (TRUD issues a new one when the account password changes); "
            f"enter the new key with `{SET_KEY_COMMAND}`."
        )


class TrudNotSubscribedError(TrudError):
    def __init__(self, item: int) -> None:
        self.item = item
        super().__init__(
            f"This TRUD account is not subscribed to {_item_name(item)} (item {item}); "
            "subscribe to it on the TRUD website and try again."
        )


class TrudUnavailableError(TrudError):
    def __init__(self) -> None:
        super().__init__("The TRUD server is unavailable at the moment; try the catalogue update again later.")


class TrudIntegrityError(TrudError):
    """The downloaded archive is not the one TRUD published (wrong size or SHA-256); it has been deleted."""


class TrudResponseError(TrudError):
    """TRUD answered with something this version cannot read."""


def _item_name(item: int) -> str:
    return ITEM_NAMES.get(item, f"TRUD item {item}")


# -------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class TrudRelease:
    item: int
    id: str
    name: str
    release_date: date
    # The URL carries the API key: keep it out of repr() so a logged release cannot leak it.
    archive_url: str = field(repr=False)
    archive_file_name: str
    archive_size: int
    archive_sha256: str  # lower-case hex


@dataclass(frozen=True)
class UpdateOutcome:
    updated: bool
    release_name: str
    release_date: date
    message: str


@dataclass(frozen=True)
class NetworkPolicy:
    """Timeouts and retry behaviour; tests inject tiny delays and a recording ``sleep``."""

    # A failed attempt that wrote no bytes counts against this; one that made progress resets the count, so
    # a flaky line can still finish a 200 MB download while a dead server is given up on quickly.
    attempts: int = 6
    base_delay: float = 2.0
    max_delay: float = 60.0
    # A server asking us to come back later than this is treated as unavailable rather than waited for.
    max_retry_after: float = 300.0
    timeout: httpx.Timeout = field(default_factory=lambda: httpx.Timeout(30.0, connect=15.0, read=60.0))
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, failures: int) -> float:
        # Jitter spreads out the many workstations that update on the same weekly schedule.
        delay = min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))
        return delay * (0.5 + random.random() / 2)


DEFAULT_POLICY: Final = NetworkPolicy()


# -------------------------------------------------------------------------------- key hygiene

_PLACEHOLDER: Final = "REDACTED"
_KEY_SEGMENT: Final = re.compile(r"(/keys/)([^/?#]+)")
_KEY_IN_TEXT: Final = re.compile(r"(/keys/)[^/\s'\"?#]+")
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def _split_key(url: str) -> tuple[str, str | None]:
    """``(url with the key replaced by the placeholder, the key as written in the URL)``."""
    match = _KEY_SEGMENT.search(url)
    if match is None:
        return url, None
    return url[: match.start(2)] + _PLACEHOLDER + url[match.end(2) :], match.group(2)


class _KeyVault(httpx.BaseTransport):
    """Puts the key into the URL only on the request that goes to the network (see the module docstring)."""

    def __init__(self, secret: str | None, inner: httpx.BaseTransport) -> None:
        self._secret = secret
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        placeholder = f"/keys/{_PLACEHOLDER}/".encode()
        if self._secret is not None and placeholder in url.raw_path:
            # Checked here, after any redirect, so the key never leaves on an unencrypted connection.
            _require_private_channel(url)
            raw_path = url.raw_path.replace(placeholder, f"/keys/{self._secret}/".encode())
            url = url.copy_with(raw_path=raw_path)
        outgoing = httpx.Request(
            request.method, url, headers=request.headers, stream=request.stream, extensions=request.extensions
        )
        response = self._inner.handle_request(outgoing)
        location = response.headers.get("location")
        if self._secret is not None and location is not None:
            # Only the /keys/<key>/ segment: a short (wrong) key must not mangle the rest of the URL.
            redacted = location.replace(f"/keys/{self._secret}/", placeholder.decode())
            if redacted != location:
                response.headers["location"] = redacted
        return response

    def close(self) -> None:
        self._inner.close()


def _require_private_channel(url: httpx.URL) -> None:
    if url.scheme == "https" or (url.scheme == "http" and url.host in _LOOPBACK):
        return
    raise TrudError("RxDesk refuses to send the TRUD API key over an unencrypted connection.")


class _RedactKeyPaths(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _KEY_IN_TEXT.sub(rf"\1{_PLACEHOLDER}", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _install_log_redaction() -> None:
    # Logger filters only see records created by that exact logger, hence the list of names.
    names = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy")
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactKeyPaths) for f in target.filters):
            target.addFilter(_RedactKeyPaths())


_install_log_redaction()


@contextmanager
def _client(secret: str | None, policy: NetworkPolicy) -> Iterator[httpx.Client]:
    transport = _KeyVault(secret, httpx.HTTPTransport())
    headers = {"User-Agent": "RxDesk", "Accept-Encoding": "identity"}
    with httpx.Client(transport=transport, timeout=policy.timeout, follow_redirects=True, headers=headers) as client:
        yield client


# -------------------------------------------------------------------------------- retries


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying. ``reason`` is our own text, never a URL."""

    def __init__(self, reason: str, *, retry_after: float | None = None, progressed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.progressed = progressed


def _with_retries(attempt: Callable[[], T], policy: NetworkPolicy, what: str) -> T:
    failures = 0
    while True:
        try:
            return attempt()
        except _Retryable as exc:
            failures = 0 if exc.progressed else failures + 1
            if failures >= policy.attempts:
                logger.warning("%s: giving up after %d failed attempts (%s)", what, failures, exc.reason)
                raise TrudUnavailableError() from None
            delay = exc.retry_after if exc.retry_after is not None else policy.backoff(max(failures, 1))
            if delay > policy.max_retry_after:
                logger.warning("%s: server asks to wait %.0f s; giving up for now", what, delay)
                raise TrudUnavailableError() from None
            logger.info("%s: %s; retrying in %.2f s", what, exc.reason, delay)
            policy.sleep(delay)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _check_status(response: httpx.Response, item: int) -> None:
    """Raise the user-facing error for a failed status, or ``_Retryable`` for a transient one."""
    status = response.status_code
    if status in (200, 206):
        return
    if status == 400:
        raise TrudKeyInvalidError()
    if status == 401:
        raise TrudKeyChangedError()
    if status == 404:
        raise TrudNotSubscribedError(item)
    if status in (408, 429) or status >= 500:
        raise _Retryable(f"HTTP {status}", retry_after=_retry_after(response))
    raise TrudError(f"TRUD answered with unexpected HTTP status {status}; try again later.")


# -------------------------------------------------------------------------------- release list


def fetch_latest_release(
    api_key: str, item: int, *, base_url: str = DEFAULT_BASE_URL, policy: NetworkPolicy = DEFAULT_POLICY
) -> TrudRelease:
    """The newest release of a TRUD item (``GET …/keys/{key}/items/{item}/releases?latest``)."""
    secret = quote(api_key.strip(), safe="")
    url = f"{base_url.rstrip('/')}/trud/api/v1/keys/{_PLACEHOLDER}/items/{item}/releases?latest"

    with _client(secret, policy) as client:
        payload = _with_retries(lambda: _get_json(client, url, item), policy, f"{_item_name(item)} release list")
    return _parse_release(payload, item)


def _get_json(client: httpx.Client, url: str, item: int) -> Any:
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise _Retryable(type(exc).__name__) from None
    _check_status(response, item)
    try:
        return response.json()
    except ValueError:
        raise _malformed(item) from None


def _malformed(item: int) -> TrudResponseError:
    return TrudResponseError(f"TRUD sent a {_item_name(item)} release list that RxDesk cannot read; try again later.")


_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")


def _parse_release(payload: Any, item: int) -> TrudRelease:
    releases = payload.get("releases") if isinstance(payload, dict) else None
    if not isinstance(releases, list):
        raise _malformed(item)
    if not releases:
        raise TrudError(f"TRUD lists no release of {_item_name(item)} at the moment; try again later.")
    # `?latest` gives one release; should it give more, take the newest rather than trusting the order.
    candidates = [_release_from_json(entry, item) for entry in releases]
    return max(candidates, key=lambda r: r.release_date)


def _release_from_json(entry: Any, item: int) -> TrudRelease:
    if not isinstance(entry, dict):
        raise _malformed(item)
    strings = ("id", "name", "releaseDate", "archiveFileUrl", "archiveFileName", "archiveFileSha256")
    size = entry.get("archiveFileSizeBytes")
    if not all(isinstance(entry.get(k), str) for k in strings) or type(size) is not int or size <= 0:
        raise _malformed(item)
    file_name, sha256 = entry["archiveFileName"], entry["archiveFileSha256"]
    # The file name becomes a path under the downloads folder: it must be a plain name.
    if not _is_plain_file_name(file_name) or not _SHA256.fullmatch(sha256):
        raise _malformed(item)
    if not entry["archiveFileUrl"].startswith(("https://", "http://")):
        raise _malformed(item)
    try:
        released = date.fromisoformat(entry["releaseDate"])
    except ValueError:
        raise _malformed(item) from None
    return TrudRelease(
        item=item,
        id=entry["id"],
        name=entry["name"],
        release_date=released,
        archive_url=entry["archiveFileUrl"],
        archive_file_name=file_name,
        archive_size=size,
        archive_sha256=sha256.lower(),
    )


def _is_plain_file_name(name: str) -> bool:
    return bool(name) and name == Path(name).name and "\\" not in name and not name.startswith(".")


# -------------------------------------------------------------------------------- download


def download_release(
    release: TrudRelease,
    dest_dir: Path,
    progress: Progress | None = None,
    *,
    policy: NetworkPolicy = DEFAULT_POLICY,
) -> Path:
    """Download, verify (size and SHA-256) and return ``dest_dir/<archive_file_name>``.

    Bytes go to ``<name>.part`` first and are kept across failures, so a later call resumes with ``Range``.
    A complete, verified file already at the final path is reused.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / release.archive_file_name
    part = final.with_name(final.name + ".part")
    if final.exists():
        if final.stat().st_size == release.archive_size and _sha256(final) == release.archive_sha256:
            logger.info("%s is already downloaded and verified", release.archive_file_name)
            return final
        final.unlink()
    url, secret = _split_key(release.archive_url)
    what = f"download of {release.archive_file_name}"
    logger.info("Downloading %s (%d bytes)", release.archive_file_name, release.archive_size)
    with _client(secret, policy) as client:
        _with_retries(lambda: _download_attempt(client, url, part, release, progress), policy, what)
    _verify(part, release)
    os.replace(part, final)
    return final


def _download_attempt(
    client: httpx.Client, url: str, part: Path, release: TrudRelease, progress: Progress | None
) -> None:
    offset = _resume_offset(part, release)
    if offset == release.archive_size:
        return  # a previous run wrote every byte but stopped before verifying
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    written = 0
    try:
        with client.stream("GET", url, headers=headers) as response:
            offset = _resumed_from(response, offset, part, release)
            if progress is not None:
                progress(offset, release.archive_size)
            with part.open("ab" if offset else "wb") as out:
                for chunk in response.iter_bytes():
                    if offset + written + len(chunk) > release.archive_size:
                        out.close()
                        raise _size_mismatch(part, release)
                    out.write(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(offset + written, release.archive_size)
                out.flush()
                # Durable before the rename: the zip must survive a power cut once we call it complete.
                os.fsync(out.fileno())
    except httpx.TransportError as exc:
        # The bytes already in the .part file stay; the next attempt resumes after them.
        raise _Retryable(type(exc).__name__, progressed=written > 0) from None


def _resume_offset(part: Path, release: TrudRelease) -> int:
    try:
        size = part.stat().st_size
    except FileNotFoundError:
        return 0
    if size > release.archive_size:
        part.unlink()  # cannot be a prefix of this archive
        return 0
    return size


def _resumed_from(response: httpx.Response, offset: int, part: Path, release: TrudRelease) -> int:
    """Where the response body starts in the file: ``offset`` (206) or 0 (a full 200)."""
    if response.status_code == 416:
        # The server holds fewer bytes than our partial file, so it cannot be a prefix: start from nothing.
        part.unlink(missing_ok=True)
        raise _Retryable("HTTP 416, restarting the download")
    _check_status(response, release.item)
    if response.status_code == 200:
        if offset:
            logger.info("Server ignored the Range request; restarting %s", release.archive_file_name)
        return 0
    if _content_range_start(response) != offset:
        part.unlink(missing_ok=True)
        raise _Retryable("HTTP 206 with an unexpected Content-Range, restarting the download")
    return offset


def _content_range_start(response: httpx.Response) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*", response.headers.get("content-range", ""))
    return int(match.group(1)) if match else None


def _verify(part: Path, release: TrudRelease) -> None:
    if part.stat().st_size != release.archive_size:
        raise _size_mismatch(part, release)
    if _sha256(part) != release.archive_sha256:
        part.unlink()
        raise TrudIntegrityError(
            f"The downloaded {release.archive_file_name} does not match the SHA-256 checksum TRUD published "
            "for it, so it has been deleted; try the catalogue update again."
        )


def _size_mismatch(part: Path, release: TrudRelease) -> TrudIntegrityError:
    part.unlink(missing_ok=True)
    return TrudIntegrityError(
        f"The downloaded {release.archive_file_name} is not the {release.archive_size} bytes TRUD published, "
        "so it has been deleted; try the catalogue update again."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -------------------------------------------------------------------------------- update


def update_catalogue(
    data_dir: Path,
    api_key: str,
    *,
    install: Callable[[Path, Path | None], object],
    installed_sha256: str | None,
    include_bonus: bool = True,
    base_url: str = DEFAULT_BASE_URL,
    progress: Progress | None = None,
    policy: NetworkPolicy = DEFAULT_POLICY,
) -> UpdateOutcome:
    """Bring the local dm+d replica up to TRUD's latest release.

    ``install(main_zip, bonus_zip_or_None)`` builds the replica (the caller passes the real builder). The zips
    are deleted only after it succeeds; if it fails they stay, verified, and the next run reuses them.
    """
    if not api_key.strip():
        raise TrudError(f"No TRUD API key is set; enter it with `{SET_KEY_COMMAND}`.")
    main = fetch_latest_release(api_key, MAIN_ITEM, base_url=base_url, policy=policy)
    if installed_sha256 is not None and installed_sha256.strip().lower() == main.archive_sha256:
        message = f"The dm+d catalogue is already up to date ({main.name}, {main.release_date:%d %B %Y})."
        return UpdateOutcome(False, main.name, main.release_date, message)
    bonus, note = None, ""
    if include_bonus:
        # The supplementary release (BNF/ATC codes, id history) enriches the catalogue but is not needed for it:
        # an account without that subscription still gets its weekly update.
        try:
            bonus = fetch_latest_release(api_key, BONUS_ITEM, base_url=base_url, policy=policy)
        except TrudNotSubscribedError:
            note = " without the supplementary release (this TRUD account is not subscribed to item 25)"

    downloads = data_dir / "downloads"
    releases = [r for r in (main, bonus) if r is not None]
    total = sum(r.archive_size for r in releases)
    paths: list[Path] = []
    done_before = 0
    for release in releases:
        paths.append(download_release(release, downloads, _overall(progress, done_before, total), policy=policy))
        done_before += release.archive_size

    main_zip, bonus_zip = paths[0], (paths[1] if bonus is not None else None)
    install(main_zip, bonus_zip)
    _clean_downloads(downloads)
    message = f"Installed the dm+d catalogue {main.name} of {main.release_date:%d %B %Y}{note}."
    return UpdateOutcome(True, main.name, main.release_date, message)


def _overall(progress: Progress | None, done_before: int, total: int) -> Progress | None:
    """One progress bar across both archives."""
    if progress is None:
        return None
    report = progress
    return lambda done, _size: report(done_before + done, total)


def _clean_downloads(downloads: Path) -> None:
    # After a successful install nothing here is needed: the installed zips, and partial downloads of older
    # weekly releases that would otherwise pile up at ~100 MB each.
    for path in downloads.iterdir():
        if path.is_file() and path.name.endswith((".zip", ".zip.part")):
            try:
                path.unlink()
            except OSError as exc:  # e.g. a virus scanner holding the file on Windows
                logger.warning("Could not delete %s: %s", path.name, exc.strerror)
