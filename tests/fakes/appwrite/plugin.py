"""Pytest fixtures for the Appwrite stand-in (registered by ``tests/conftest.py``):

* ``appwrite_server``: a factory; each call starts a fresh stand-in (login rate limit off unless asked for) with
  ``backend/appwrite.config.json`` loaded when the file exists; at teardown every stand-in it made is closed and
  the test fails if any request or response broke the published contract;
* ``appwrite``: one such stand-in with the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .standin import AppwriteStandin
from .state import Clock

BACKEND_CONFIG = Path(__file__).resolve().parents[3] / "backend" / "appwrite.config.json"

StandinFactory = Callable[..., AppwriteStandin]


@pytest.fixture
def appwrite_server() -> Iterator[StandinFactory]:
    made: list[AppwriteStandin] = []

    def make(
        *,
        project_id: str = "rxdesk-test",
        rate_limits: bool = False,
        clock: Clock | None = None,
        sync_timeout: float = 30.0,
        load_backend: bool = True,
    ) -> AppwriteStandin:
        server = AppwriteStandin(project_id, clock=clock, rate_limits=rate_limits, sync_timeout=sync_timeout)
        made.append(server)
        if load_backend and BACKEND_CONFIG.exists():
            server.load_config(BACKEND_CONFIG)
        return server.start()

    yield make
    for server in made:
        server.close()
    violations = [str(v) for server in made for v in server.violations]
    if violations:
        pytest.fail("Appwrite contract violations:\n  " + "\n  ".join(violations), pytrace=False)


@pytest.fixture
def appwrite(appwrite_server: StandinFactory) -> AppwriteStandin:
    return appwrite_server()
