"""UK postcodes, phone numbers and email addresses: checked and stored in one canonical form."""

from __future__ import annotations

import re

from core.errors import ValidationError

# The UK postcode grammar (outward code, space, inward code), including GIR 0AA; case and spacing are normalised.
_OUTWARD = r"(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRV-Y]?)"
_POSTCODE = re.compile(rf"GIR0AA|{_OUTWARD}[0-9][ABD-HJLNP-UW-Z]{{2}}")
# UK numbers: 0 followed by 9 or 10 digits, or +44 instead of the 0.
_PHONE_DIGITS = re.compile(r"0\d{9,10}")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"
)


def normalise_postcode(text: str) -> str:
    compact = re.sub(r"\s+", "", text).upper()
    if not _POSTCODE.fullmatch(compact):
        raise ValidationError(f"{text.strip() or 'An empty value'} is not a UK postcode.")
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_key(text: str) -> str:
    """The search form of a postcode or its start: upper case, no spaces."""
    return re.sub(r"\s+", "", text).upper()


def normalise_phone(text: str) -> str:
    compact = re.sub(r"[\s()-]", "", text)
    if compact.startswith("+44"):
        compact = "0" + compact[3:].removeprefix("0")
    elif compact.startswith("0044"):
        compact = "0" + compact[4:].removeprefix("0")
    if not _PHONE_DIGITS.fullmatch(compact):
        raise ValidationError(f"{text.strip() or 'An empty value'} is not a UK phone number.")
    return compact


def normalise_email(text: str) -> str:
    email = text.strip()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValidationError(f"{email or 'An empty value'} is not an email address.")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"
