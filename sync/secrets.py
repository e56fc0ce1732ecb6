"""Secrets kept in the operating system's keyring, never in files, logs or the database: the TRUD API key and the
Appwrite session of this workstation."""

from __future__ import annotations

from typing import Final

import keyring
import keyring.errors

from core.errors import RxDeskError

SERVICE: Final = "rxdesk"
TRUD_KEY_USERNAME: Final = "trud-api-key"
TRUD_KEY: Final = "the TRUD API key"


class SecretStoreError(RxDeskError):
    """The system keyring could not be used; ``str()`` is one sentence fit to show a user."""


def _store_error(exc: keyring.errors.KeyringError, action: str, what: str) -> SecretStoreError:
    if isinstance(exc, keyring.errors.NoKeyringError):
        return SecretStoreError(
            f"No system keyring is available to {action} {what}; on Linux, install and unlock "
            "a Secret Service keyring such as GNOME Keyring or KWallet."
        )
    if isinstance(exc, keyring.errors.KeyringLocked):
        return SecretStoreError(f"The system keyring is locked; unlock it to {action} {what}.")
    return SecretStoreError(f"The system keyring could not {action} {what}.")


def get_secret(name: str, what: str) -> str | None:
    """The stored secret, or None if none is stored. ``what`` names it in messages ("the TRUD API key")."""
    try:
        value = keyring.get_password(SERVICE, name)
    except keyring.errors.KeyringError as exc:
        raise _store_error(exc, "read", what) from exc
    return value or None


def set_secret(name: str, value: str, what: str) -> None:
    try:
        keyring.set_password(SERVICE, name, value)
    except keyring.errors.KeyringError as exc:
        # No chaining: a backend's error text is not ours to vouch for, and this call carries the secret.
        raise _store_error(exc, "store", what) from None


def delete_secret(name: str, what: str) -> None:
    """Forget the secret; doing so when none is stored is not an error."""
    try:
        keyring.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        if get_secret(name, what) is not None:
            raise SecretStoreError(f"The system keyring could not delete {what}.") from None
    except keyring.errors.KeyringError as exc:
        raise _store_error(exc, "delete", what) from exc


def get_trud_key() -> str | None:
    return get_secret(TRUD_KEY_USERNAME, TRUD_KEY)


def set_trud_key(key: str) -> None:
    key = key.strip()  # pasted keys often carry a newline or spaces
    if not key:
        raise ValueError("The TRUD API key is empty; paste the key shown on your TRUD account page.")
    set_secret(TRUD_KEY_USERNAME, key, TRUD_KEY)


def delete_trud_key() -> None:
    delete_secret(TRUD_KEY_USERNAME, TRUD_KEY)
