"""Errors of the clinical core: each carries one plain-English message meant for the user as it is."""

from __future__ import annotations


class RxDeskError(Exception):
    """Base of every user-facing failure of a service function. ``str(error)`` is the message to show."""


class ValidationError(RxDeskError):
    """Input that cannot be accepted (an invalid NHS number, a malformed postcode, a missing field)."""


class PermissionDenied(RxDeskError):
    """The signed-in user's role does not allow the action."""


class NotFound(RxDeskError):
    """A record asked for by id does not exist."""


class InvalidTransition(RxDeskError):
    """A prescription, item or owing cannot move from its current state to the one asked for."""


class SignInFailed(RxDeskError):
    """Wrong user name, password or PIN, or a locked account."""


class DuplicateRecord(RxDeskError):
    """The record already exists (the same NHS number, the same id)."""


class InsufficientTokens(RxDeskError):
    """Signing would take the token balance past the overdraft limit."""
