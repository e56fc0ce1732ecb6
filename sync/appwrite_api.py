"""The official ``appwrite`` SDK as sync uses it: with timeouts, and its errors sorted into what to do next.

The SDK calls ``requests.request`` with no timeout, so a server that accepts a connection and never answers would
hold a sync forever. The SDK module's ``requests`` is replaced by a stand-in that adds a connect and a read timeout
to every call (all SDK clients of the process get them: none should wait forever).
"""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import Any

import appwrite.client
import requests
from appwrite.client import Client
from appwrite.exception import AppwriteException

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 45.0  # a synchronous function execution may take up to 30 s on the server


class _RequestsWithTimeouts:
    """``requests`` for the SDK, every request with (connect, read) timeouts unless one is given."""

    def __init__(self) -> None:
        self.timeouts = (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeouts)
        return requests.request(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)


_install_lock = threading.Lock()


def install_timeouts(connect_s: float | None = None, read_s: float | None = None) -> None:
    """Every SDK call of the process gets timeouts (these, or the defaults)."""
    with _install_lock:
        if not isinstance(appwrite.client.requests, _RequestsWithTimeouts):
            appwrite.client.requests = _RequestsWithTimeouts()
        shim: _RequestsWithTimeouts = appwrite.client.requests
        if connect_s is not None or read_s is not None:
            shim.timeouts = (connect_s or CONNECT_TIMEOUT_S, read_s or READ_TIMEOUT_S)


def session_client(endpoint: str, project: str, session: str) -> Client:
    """An SDK client acting as the user of ``session``: never an API key on a workstation."""
    install_timeouts()
    return Client().set_endpoint(endpoint).set_project(project).set_session(session)


class Failure(StrEnum):
    """What a failed call means for sync."""

    RETRY = "retry"  # the network, a timeout, 408/429/5xx: nothing is known, try again later
    SIGN_IN = "sign in"  # 401: the session expired or was revoked
    REFUSED = "refused"  # any other 4xx: the server will give the same answer again


def classify(exc: AppwriteException) -> Failure:
    code = exc.code if isinstance(exc.code, int) else 0
    if code == 401:
        return Failure.SIGN_IN
    if code == 0 or code in (408, 425, 429) or code >= 500:
        return Failure.RETRY
    return Failure.REFUSED


def describe(exc: AppwriteException) -> str:
    """One line for the sync panel: never the request (URLs, headers), only what went wrong."""
    code = exc.code if isinstance(exc.code, int) else 0
    if code == 0:
        cause = exc.message if isinstance(exc.message, Exception) else None
        if isinstance(cause, requests.Timeout):
            return "The server did not answer in time."
        return "The server could not be reached."
    message = exc.message if isinstance(exc.message, str) else ""
    return f"The server answered {code}" + (f": {message}" if message else ".")
