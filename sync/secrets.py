"""The TRUD API key, kept in the operating system's keyring (never in files or logs)."""

from __future__ import annotations

from typing import Final

import keyring
import keyring.errors

from core.errors import RxDeskError

SERVICE: Final = "rxdesk"
TRUD_KEY_USERNAME: Final = "trud-api-key"


class SecretStoreError(RxDeskError):
    """The system keyring could not be used; ``str()`` is one sentence fit to show a user."""


def _store_error(exc: keyring.errors.KeyringError, action: str) -> SecretStoreError:
    if isinstance(exc, keyring.errors.NoKeyringError):
        return SecretStoreError(
            f"No system keyring is available to {action} the TRUD API key; on Linux, install and unlock "
            "a Secret Service keyring such as GNOME Keyring or KWallet."
        )
    if isinstance(exc, keyring.errors.KeyringLocked):
        return SecretStoreError(f"The system keyring is locked; unlock it to {action} the TRUD API key.")
    return SecretStoreError(f"The system keyring could not {action} the TRUD API key.")


def get_trud_key() -> str | None:
    """The stored key, or None if none is stored."""
    try:
        key = keyring.get_password(SERVICE, TRUD_KEY_USERNAME)
    except keyring.errors.KeyringError as exc:
        raise _store_error(exc, "read") from exc
    return key or None


def set_trud_key(key: str) -> None:
    key = key.strip()  # pasted keys often carry a newline or spaces
    if not key:
        raise ValueError("The TRUD API key is empty; paste the key shown on your TRUD account page.")
    try:
        keyring.set_password(SERVICE, TRUD_KEY_USERNAME, key)
    except keyring.errors.KeyringError as exc:
        # No chaining: a backend's error text is not ours to vouch for, and this call carries the key.
        raise _store_error(exc, "store") from None


def delete_trud_key() -> None:
    """Forget the key; doing so when none is stored is not an error."""
    try:
        keyring.delete_password(SERVICE, TRUD_KEY_USERNAME)
    except keyring.errors.PasswordDeleteError:
        if get_trud_key() is not None:
            raise SecretStoreError("The system keyring could not delete the TRUD API key.") from None
    except keyring.errors.KeyringError as exc:
        raise _store_error(exc, "delete") from exc
