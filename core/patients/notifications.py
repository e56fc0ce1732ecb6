"""How a patient wants to be told that their prescription is signed, dispensed or ready to collect, and their
consent to it.

Nothing is sent without consent. Consent is to a way of being told (email, text message or both): it is recorded
with who recorded it and when, and withdrawn by clearing it; changing the way while consent stands records it anew.
The rules below are one table, each row with its own test (tests/test_patient_notifications.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.validation.contact import is_uk_mobile


class NotifyBy(StrEnum):
    NONE = "none"
    EMAIL = "email"
    SMS = "sms"
    BOTH = "both"

    @property
    def email(self) -> bool:
        return self in (NotifyBy.EMAIL, NotifyBy.BOTH)

    @property
    def sms(self) -> bool:
        return self in (NotifyBy.SMS, NotifyBy.BOTH)

    @property
    def label(self) -> str:
        return NOTIFY_LABELS[self]


NOTIFY_LABELS = {
    NotifyBy.NONE: "Neither",
    NotifyBy.EMAIL: "Email",
    NotifyBy.SMS: "Text message",
    NotifyBy.BOTH: "Email and text message",
}
# "The patient agrees to be told by …"
NOTIFY_PHRASES = {
    NotifyBy.NONE: "…",
    NotifyBy.EMAIL: "email",
    NotifyBy.SMS: "text message",
    NotifyBy.BOTH: "email and text message",
}
_WORDS = {
    "": NotifyBy.NONE,
    "none": NotifyBy.NONE,
    "neither": NotifyBy.NONE,
    "no": NotifyBy.NONE,
    "email": NotifyBy.EMAIL,
    "e-mail": NotifyBy.EMAIL,
    "sms": NotifyBy.SMS,
    "text": NotifyBy.SMS,
    "text message": NotifyBy.SMS,
    "both": NotifyBy.BOTH,
    "email and sms": NotifyBy.BOTH,
    "sms and email": NotifyBy.BOTH,
    "email and text message": NotifyBy.BOTH,
    "email+sms": NotifyBy.BOTH,
}


def parse_notify_by(text: str | None) -> NotifyBy:
    """The way of being told from a word ("email", "SMS", "both", "none" ...); ValueError otherwise."""
    found = _WORDS.get(" ".join((text or "").casefold().split()))
    if found is None:
        raise ValueError(f"{(text or '').strip()} is not one of email, sms, both, none.")
    return found


def consent_sentence(notify_by: NotifyBy) -> str:
    return f"The patient agrees to be told by {NOTIFY_PHRASES[notify_by]}"


class Contactable(Protocol):
    """What the rules read: validated details (phone and email already in their canonical form)."""

    @property
    def phone(self) -> str | None: ...

    @property
    def email(self) -> str | None: ...

    @property
    def notify_by(self) -> str | None: ...

    @property
    def consent(self) -> bool: ...


@dataclass(frozen=True)
class NotifyRule:
    key: str
    field: str  # the input the problem is shown beside
    broken: Callable[[Contactable], bool]
    message: str


def _way(details: Contactable) -> NotifyBy:
    return NotifyBy(details.notify_by or NotifyBy.NONE)


NOTIFY_RULES: tuple[NotifyRule, ...] = (
    NotifyRule(
        "sms_needs_a_mobile",
        "notify_by",
        lambda d: _way(d).sms and not (d.phone and is_uk_mobile(d.phone)),
        "text messages need a UK mobile number (07…) in Phone.",
    ),
    NotifyRule(
        "email_needs_an_address",
        "notify_by",
        lambda d: _way(d).email and not d.email,
        "emails need an email address in Email.",
    ),
    NotifyRule(
        "consent_needs_a_way",
        "consent",
        lambda d: d.consent and _way(d) is NotifyBy.NONE,
        "choose email, text message or both before recording the patient's consent.",
    ),
)


def notify_problems(details: Contactable) -> list[NotifyRule]:
    """The rules these details break, in table order."""
    return [rule for rule in NOTIFY_RULES if rule.broken(details)]
