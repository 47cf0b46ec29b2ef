"""A member's signed link, read for the preferences page: whose it is, or why it does not
work; and the check that a form posted to it comes from the page itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from shared.signing import InvalidLink, LinkExpired, verify_member_token


class LinkState(Enum):
    VALID = 200
    MALFORMED = 400  # not a link we make: mistyped or cut off in the mail client
    TAMPERED = 403  # well formed, but not signed by us
    EXPIRED = 410  # ours, past its time: the next digest or notice brings a new one


@dataclass(frozen=True)
class Link:
    state: LinkState
    # Known for a valid or expired link (an expired one still says whose it was).
    member_id: uuid.UUID | None = None


def _well_formed(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        uuid.UUID(parts[0])
        int(parts[1])
    except ValueError:
        return False
    return bool(parts[2])


def read_link(secret: str, token: str, now: float | None = None) -> Link:
    try:
        return Link(LinkState.VALID, verify_member_token(secret, token, now))
    except LinkExpired as expired:
        return Link(LinkState.EXPIRED, expired.member_id)
    except InvalidLink:
        return Link(LinkState.TAMPERED if _well_formed(token) else LinkState.MALFORMED)


def same_origin(origin: str | None, scheme: str, host: str) -> bool:
    """A form posted from another site is refused. Browsers send Origin with every POST;
    a client that sends none (curl, an old browser) is let through, as the token in the URL
    is the credential either way. ``null`` (a sandboxed or privacy-stripped page) is not ours."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return (parts.scheme, parts.netloc.lower()) == (scheme, host.lower())
