"""Keeps personal data out of log lines: by field name, and by the shape of the value."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

REDACTED = "[redacted]"

# Field names whose values are personal data whatever they look like.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "phones",
        "phone_number",
        "mobile",
        "email",
        "e_mail",
        "address",
        "street",
        "house_number",
        "postal_code",
        "birth_date",
        "date_of_birth",
        "recipient",
        "to",
        "contact",
        "password",
        "token",
        "authorization",
    }
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# International (+32 470 12 34 56, 0032...) and Belgian national (0470/12.34.56, 02 123 45 67)
# numbers: a leading + or 0 and at least 8 digits, so counts, dates and ids are left alone.
_PHONE = re.compile(r"(?<![\w-])(?:\+\d|0)(?:[\s./-]?\d){7,14}(?![\w-])")


def redact_text(text: str) -> str:
    """Masks e-mail addresses and phone numbers inside free text."""
    return _PHONE.sub(REDACTED, _EMAIL.sub(REDACTED, text))


def redact(value: Any, key: str | None = None) -> Any:
    """Returns ``value`` with personal data masked, recursing into mappings and sequences."""
    if key is not None and key.lower() in PERSONAL_FIELDS and value is not None:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    return value


def redact_event_dict(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """structlog processor: the last step before rendering, so nothing escapes it."""
    return {k: redact(v, None if k == "event" else k) for k, v in event_dict.items()}
