"""A real HTTP stand-in for NHS TRUD's API v1 on 127.0.0.1, with fault injection.

It answers like TRUD (see ../shared/dmd-samples/trud-api-releases-sample.json):

* ``GET /trud/api/v1/keys/{key}/items/{item}/releases[?latest]`` → ``{"apiVersion", "releases", "httpStatus",
  "message"}`` with ``archiveFileUrl`` pointing back here;
* ``GET /download/api/v1/keys/{key}/content/items/{item}/{file}`` → the archive, honouring ``Range``;
* an unknown key → 400, an item the key is not subscribed to → 404 (whose message, like TRUD's, quotes the
  key), both with a JSON body ``{"message", "httpStatus"}``.

Faults are queued per path (``api_path()``/``download_path()``) and each request to that path takes the next.

    with FakeTrud(keys={"k": {24, 25}}) as trud:
        trud.publish(24, main_zip)
        trud.add_faults(trud.download_path("k", 24, main_zip.name), Fault(cut_after=1000))
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or to) the normal answer of one request."""

    status: int | None = None  # answer with this status and a TRUD-style JSON error body
    retry_after: str | None = None  # Retry-After header sent with ``status``
    cut_after: int | None = None  # send the headers of the full answer, then only this many bytes, then close
    stall: float | None = None  # wait this many seconds before answering (to provoke a read timeout)
    ignore_range: bool = False  # answer 200 with the whole file even if Range was asked for
    body: bytes | None = None  # answer 200 with this body instead (e.g. a maintenance page, not JSON)
    redirect: str | None = None  # answer 302 with this Location


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]

    @property
    def kind(self) -> str:
        return "download" if self.path.startswith("/download/") else "api"


@dataclass
class _Published:
    item: int
    path: Path
    name: str
    release_date: str
    sha256: str
    size: int
    data: bytes = field(repr=False)


_ERROR_MESSAGES = {
    400: "Invalid API key",  # TRUD's wording is not published; only the status matters to clients
    401: "UNAUTHORIZED: API access is disabled for the requesting account.",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}

_API = re.compile(r"/trud/api/v1/keys/([^/]+)/items/(\d+)/releases")
_DOWNLOAD = re.compile(r"/download/api/v1/keys/([^/]+)/content/items/(\d+)/([^/]+)")


class FakeTrud:
    def __init__(self, keys: dict[str, set[int]] | None = None) -> None:
        # key → the items that account is subscribed to
        self.keys: dict[str, set[int]] = keys if keys is not None else {}
        self.requests: list[Seen] = []
        self._published: dict[int, _Published] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval keeps shutdown() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-trud", daemon=True
        )

    # ----------------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeTrud:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTrud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------------- set-up

    def publish(
        self,
        item: int,
        archive: Path,
        *,
        name: str | None = None,
        advertised_sha256: str | None = None,
        advertised_size: int | None = None,
    ) -> None:
        """Make ``archive`` the latest release of ``item``.

        ``advertised_sha256``/``advertised_size`` make the release list lie about the file.
        """
        data = archive.read_bytes()
        stamp = re.search(r"_(\d{8})\d{6}\.zip$", archive.name)
        released = f"{stamp.group(1)[:4]}-{stamp.group(1)[4:6]}-{stamp.group(1)[6:]}" if stamp else "2024-01-01"
        version = re.search(r"_(\d+\.\d+\.\d+)_", archive.name)
        default_name = f"Release {version.group(1) if version else '1.0.0'}"
        self._published[item] = _Published(
            item=item,
            path=archive,
            name=name or default_name,
            release_date=released,
            # TRUD publishes the hash in upper case (see the sample)
            sha256=(advertised_sha256 or hashlib.sha256(data).hexdigest()).upper(),
            size=advertised_size if advertised_size is not None else len(data),
            data=data,
        )

    def add_faults(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)

    @staticmethod
    def api_path(key: str, item: int) -> str:
        return f"/trud/api/v1/keys/{key}/items/{item}/releases"

    @staticmethod
    def download_path(key: str, item: int, file_name: str) -> str:
        return f"/download/api/v1/keys/{key}/content/items/{item}/{file_name}"

    def seen(self, kind: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if kind is None or r.kind == kind]

    # ----------------------------------------------------------------------------------------- internals

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def release_json(self, key: str, item: int) -> dict[str, object]:
        published = self._published[item]
        base = f"{self.base_url}/download/api/v1/keys/{key}/content"
        trud_file = f"trud_{published.path.stem}.xml"
        return {
            "id": published.path.name,
            "name": published.name,
            "releaseDate": published.release_date,
            "archiveFileUrl": f"{base}/items/{item}/{published.path.name}",
            "archiveFileName": published.path.name,
            "archiveFileSizeBytes": published.size,
            "archiveFileSha256": published.sha256,
            "archiveFileLastModifiedTimestamp": f"{published.release_date}T09:55:45.000Z",
            "checksumFileUrl": f"{base}/items/{item}/{trud_file}",
            "checksumFileName": trud_file,
            "checksumFileSizeBytes": 186,
            "checksumFileLastModifiedTimestamp": f"{published.release_date}T09:59:45.000Z",
            "signatureFileUrl": f"{base}/items/{item}/{trud_file}.asc",
            "signatureFileName": f"trud_{published.path.stem}.sig",
            "signatureFileSizeBytes": 488,
            "signatureFileLastModifiedTimestamp": f"{published.release_date}T09:59:45.000Z",
            "publicKeyFileUrl": f"{base}/public-keys/trud-public-key-2013-04-01.pgp",
            "publicKeyFileName": "trud-public-key-2013-04-01.pgp",
            "publicKeyFileSizeBytes": 1736,
            "publicKeyId": 6,
        }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up mid-answer is what the fault tests provoke (timeouts, oversized bodies).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _handler_for(trud: FakeTrud) -> type[BaseHTTPRequestHandler]:
    class Handler(_TrudHandler):
        server_state = trud

    return Handler


class _TrudHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real server; every answer carries Content-Length
    server_state: FakeTrud

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request line holds the key: keep it off stderr

    def do_GET(self) -> None:
        trud = self.server_state
        path = urlsplit(self.path).path
        trud._record(Seen("GET", path, {k.lower(): v for k, v in self.headers.items()}))
        fault = trud._next_fault(path)
        if fault is not None and fault.stall:
            time.sleep(fault.stall)
        if fault is not None and fault.status is not None:
            self._send_error(fault.status, retry_after=fault.retry_after)
            return
        if fault is not None and fault.body is not None:
            self._send(200, "text/html", fault.body)
            return
        if fault is not None and fault.redirect is not None:
            self._send(302, "text/plain", b"", [("Location", fault.redirect)])
            return
        if match := _API.fullmatch(path):
            self._releases(match.group(1), int(match.group(2)))
        elif match := _DOWNLOAD.fullmatch(path):
            self._download(match.group(1), int(match.group(2)), match.group(3), fault)
        else:
            self._send_json(404, {"message": "Not found", "httpStatus": 404})

    # ----------------------------------------------------------------------------------------- endpoints

    def _authorised(self, key: str, item: int) -> bool:
        trud = self.server_state
        if key not in trud.keys:
            self._send_error(400)
            return False
        if item not in trud.keys[key] or item not in trud._published:
            # TRUD's real 404 message quotes the key, which is why clients must never echo it.
            message = f"No subscription found for API key {key}, item {item}"
            self._send_json(404, {"apiVersion": "1", "message": message, "httpStatus": 404})
            return False
        return True

    def _releases(self, key: str, item: int) -> None:
        if self._authorised(key, item):
            body = {
                "apiVersion": "1",
                "releases": [self.server_state.release_json(key, item)],
                "httpStatus": 200,
                "message": "OK",
            }
            self._send_json(200, body)

    def _download(self, key: str, item: int, file_name: str, fault: Fault | None) -> None:
        if not self._authorised(key, item):
            return
        published = self.server_state._published[item]
        if file_name != published.path.name:
            self._send_json(404, {"message": "Not found", "httpStatus": 404})
            return
        data = published.data
        start = self._range_start(len(data)) if fault is None or not fault.ignore_range else None
        if start is not None and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start or 0 :]
        self.send_response(206 if start is not None else 200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if fault is not None and fault.cut_after is not None:
            self._cut(body[: fault.cut_after])
        else:
            self.wfile.write(body)

    # ----------------------------------------------------------------------------------------- helpers

    def _range_start(self, size: int) -> int | None:
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "").strip())
        return int(match.group(1)) if match else None

    def _cut(self, partial: bytes) -> None:
        """Send part of the promised body, then drop the connection mid-transfer."""
        self.wfile.write(partial)
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already have gone
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_error(self, status: int, *, retry_after: str | None = None) -> None:
        body = {"message": _ERROR_MESSAGES.get(status, "Error"), "httpStatus": status}
        self._send_json(status, body, extra=[("Retry-After", retry_after)] if retry_after else ())

    def _send_json(self, status: int, body: object, extra: Iterable[tuple[str, str]] = ()) -> None:
        self._send(status, "application/json", json.dumps(body).encode(), extra)

    def _send(self, status: int, content_type: str, payload: bytes, extra: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
