"""Contact data rules: phone numbers normalised to E.164 (Belgian by default), e-mail
addresses validated and normalised.

Both checks run once per member of an imported list, so each has a fast path for the
common case that gives the same answer as the full library (unit tests hold them equal):
Belgian mobile numbers, and plain ASCII e-mail addresses. Anything else goes through
``phonenumbers`` and ``email-validator``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import email_validator
import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


class InvalidEmail(ValueError):
    pass


_SEPARATORS = re.compile(r"[\s./()-]")
_BELGIAN_MOBILE = re.compile(r"(?:\+32|0032|0)(4\d{8})")


@lru_cache(maxsize=128)
def _belgian_mobile_prefix_is_valid(prefix: str) -> bool:
    """Whether ``4xx`` numbers are valid mobiles, asked of phonenumbers once per prefix."""
    return phonenumbers.is_valid_number(phonenumbers.parse(f"+32{prefix}000000", None))


def normalise_phone(raw: str, default_region: str = "BE") -> str:
    """``0470 12 34 56`` → ``+32470123456``; refuses what is not a valid number."""
    if default_region == "BE":
        mobile = _BELGIAN_MOBILE.fullmatch(_SEPARATORS.sub("", raw))
        if mobile and _belgian_mobile_prefix_is_valid(mobile.group(1)[:3]):
            return f"+32{mobile.group(1)}"
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"not a phone number: {error}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid phone number for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+([A-Za-z]{{2,63}}))")
_SPECIAL_USE = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)


def normalise_email(raw: str) -> str:
    """A valid address with its domain in lower case (what email-validator normalises to)."""
    value = raw.strip()
    plain = _PLAIN_EMAIL.fullmatch(value)
    if (
        plain
        and len(value) <= 254
        and len(plain.group(1)) <= 64
        and plain.group(3).lower() not in _SPECIAL_USE
    ):
        return f"{plain.group(1)}@{plain.group(2).lower()}"
    try:
        parts = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        raise InvalidEmail(f"not a valid e-mail address: {error}") from None
    return str(parts.normalized)
