"""Events the digest service publishes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from shared.events.common import Language, ShortText
from shared.events.envelope import Envelope, EventData

# Placeholder dispatch replaces, per member, with their signed preferences/unsubscribe link.
PREFERENCES_URL_PLACEHOLDER = "{preferences_url}"


class RenderedDigest(EventData):
    subject: ShortText
    text: Annotated[str, Field(min_length=1, max_length=200_000)]
    html: Annotated[str, Field(min_length=1, max_length=500_000)]


class DigestCompiledData(EventData):
    """One BIN's digest for one day, rendered per language; dispatch fans it out to the
    BIN's members (bulk priority, news channels), each in their language."""

    digest_id: uuid.UUID
    bin_id: uuid.UUID
    day: date
    items: int = Field(ge=0)
    renderings: dict[Language, RenderedDigest] = Field(min_length=1)


class DigestCompiled(Envelope[DigestCompiledData]):
    type: Literal["digest.compiled.v1"] = "digest.compiled.v1"
