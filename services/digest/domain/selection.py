"""Which police news items a BIN's digest carries, in which order."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.events import BinKind, PoliceNewsCategory

# What the self-employed of a BIN-Z most need to hear about comes first in their digest.
BIN_Z_FIRST = frozenset(
    {PoliceNewsCategory.SMALL_THEFT, PoliceNewsCategory.BURGLARY_OTHER_BUILDING}
)


@dataclass(frozen=True)
class NewsItem:
    news_id: uuid.UUID
    police_zone: str
    category: PoliceNewsCategory
    occurred_at: datetime
    place: str
    published_info: str
    # When intake published it: the digest covers what was published since the last one.
    published_at: datetime


@dataclass(frozen=True)
class DigestBin:
    bin_id: uuid.UUID
    kind: BinKind
    police_zone: str
    municipality: str
    languages: Sequence[str]


def select(
    items: Iterable[NewsItem],
    digest_bin: DigestBin,
    start: datetime,
    end: datetime,
    maximum: int,
) -> list[NewsItem]:
    """The zone's items of the period: in the BIN's own municipality first, then (for a
    BIN-Z) shop thefts and business burglaries, newest first; at most ``maximum``."""
    chosen = [
        item
        for item in items
        if item.police_zone == digest_bin.police_zone and start < item.published_at <= end
    ]

    def rank(item: NewsItem) -> tuple[bool, bool, float]:
        local = digest_bin.municipality.casefold() in item.place.casefold()
        favoured = digest_bin.kind is BinKind.BIN_Z and item.category in BIN_Z_FIRST
        return (not local, not favoured, -item.occurred_at.timestamp())

    return sorted(chosen, key=rank)[:maximum]
