"""Errors of the dm+d replica: each carries one sentence a user can act on."""

from __future__ import annotations


class DmdError(Exception):
    """Base class; ``str(error)`` is a complete, user-facing sentence."""


class ReleaseError(DmdError):
    """The release given is unusable: not a dm+d release, a file missing, corrupt or malformed."""


class ValidationError(DmdError):
    """The release parsed but its content is inconsistent (counts or links between records)."""


class ReplicaMissingError(DmdError):
    """No catalogue has been built yet."""


class NotFoundError(DmdError):
    """No product or pack matches the identifier given."""


class InvalidGtinError(DmdError):
    """A barcode that is not a valid GTIN-13 or GTIN-14."""
