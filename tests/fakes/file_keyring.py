"""A keyring backend kept in a JSON file, for tests whose secrets must cross processes (a sync run in a child
process that is killed): ``MemoryKeyring`` lives and dies with its process.

A child picks it through keyring's own switch, the environment::

    PYTHON_KEYRING_BACKEND=tests.fakes.file_keyring.FileKeyring
    RXDESK_TEST_KEYRING_FILE=/tmp/.../keyring.json

It is viable only when ``RXDESK_TEST_KEYRING_FILE`` names its file (so keyring never chooses it by itself), lives
under tests/ (never shipped: build.spec leaves tests out, setuptools packages only core, sync and desktop) and keeps
the secrets in plain text: it is for test secrets of throwaway servers only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import PasswordDeleteError

FILE_VARIABLE = "RXDESK_TEST_KEYRING_FILE"
BACKEND_NAME = f"{__name__}.FileKeyring"


class FileKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        if not os.environ.get(FILE_VARIABLE):
            raise RuntimeError(f"FileKeyring is for tests only, with {FILE_VARIABLE} set")
        return 0.1  # viable, but below any real keyring's recommendation threshold

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path or Path(os.environ[FILE_VARIABLE])

    def _read(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data

    def _write(self, secrets: dict[str, str]) -> None:
        partial = self.path.with_name(self.path.name + ".part")
        partial.write_text(json.dumps(secrets, sort_keys=True), encoding="utf-8")
        partial.replace(self.path)

    @staticmethod
    def _key(service: str, username: str) -> str:
        return f"{service}\n{username}"

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(self._key(service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        secrets = self._read()
        secrets[self._key(service, username)] = password
        self._write(secrets)

    def delete_password(self, service: str, username: str) -> None:
        secrets = self._read()
        if secrets.pop(self._key(service, username), None) is None:
            raise PasswordDeleteError("no such password")
        self._write(secrets)
