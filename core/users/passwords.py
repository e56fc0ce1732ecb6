"""Password and PIN hashing with argon2id, so sign-in works offline without keeping secrets."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Lighter than the library default (64 MiB): sign-in and signing must feel instant on an old kiosk, and PINs are
# also rate-limited by the lockout in users.service.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


# The password of a user taken from the organisation's server, until an admin of this workstation gives them one
# here (hashes never leave the workstation that made them): it never verifies.
NOT_SET_HERE = "!not-set-on-this-workstation"


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
