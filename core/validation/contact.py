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


# UK mobile numbers (Ofcom's National Telephone Numbering Plan): 07 and nine more digits, but not 070 (personal
# numbers, which forward anywhere) nor 076 (pagers), except 07624 (Isle of Man mobiles). Longest prefix first.
MOBILE_PREFIXES: tuple[tuple[str, bool], ...] = (
    ("07624", True),
    ("070", False),
    ("076", False),
    ("07", True),
)


def is_uk_mobile(text: str) -> bool:
    """Whether a phone number (any form ``normalise_phone`` takes) is a UK mobile that can receive text messages."""
    try:
        number = normalise_phone(text)
    except ValidationError:
        return False
    if len(number) != 11:
        return False
    return next((ok for prefix, ok in MOBILE_PREFIXES if number.startswith(prefix)), False)


def mobile_e164(text: str) -> str:
    """A UK mobile number in E.164 (+447…), as SMS providers take it; ValidationError if it is not one."""
    if not is_uk_mobile(text):
        raise ValidationError(f"{text.strip() or 'An empty value'} is not a UK mobile number.")
    return "+44" + normalise_phone(text)[1:]
