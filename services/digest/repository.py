"""The digest's SQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.digest.domain.selection import DigestBin, NewsItem
from shared.database import Connection
from shared.events import (
    BinKind,
    BinRegisteredData,
    BinStatusChangedData,
    PoliceNewsCategory,
    PoliceNewsPublishedData,
)

INSERT_NEWS_ITEM = """
INSERT INTO news_item (news_id, police_zone, category, occurred_at, place, published_info)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (news_id) DO NOTHING
"""
COUNT_NEWS_BY_ZONE = "SELECT police_zone, count(*) AS items FROM news_item GROUP BY police_zone"
UPSERT_BIN = """
INSERT INTO digest_bin (bin_id, bin_name, kind, municipality, police_zone, languages)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (bin_id) DO UPDATE SET
    bin_name = EXCLUDED.bin_name, kind = EXCLUDED.kind, municipality = EXCLUDED.municipality,
    police_zone = EXCLUDED.police_zone, languages = EXCLUDED.languages
"""
# The BINs a day's digests go to: the active ones.
SELECT_BINS = """
SELECT b.bin_id, b.bin_name, b.kind, b.municipality, b.police_zone, b.languages
FROM digest_bin b JOIN digest_bin_status s USING (bin_id)
WHERE s.status = 'active'
ORDER BY b.bin_id
"""
UPSERT_STATUS = """
INSERT INTO digest_bin_status (bin_id, status, status_at) VALUES ($1, $2, $3)
ON CONFLICT (bin_id) DO UPDATE SET status = EXCLUDED.status, status_at = EXCLUDED.status_at
WHERE digest_bin_status.status_at < EXCLUDED.status_at
"""
SELECT_BIN = """
SELECT bin_id, bin_name, kind, municipality, police_zone, languages FROM digest_bin
WHERE bin_id = $1
"""
SELECT_ZONE_NEWS = """
SELECT news_id, police_zone, category, occurred_at, place, published_info,
       received_at AS published_at
FROM news_item WHERE police_zone = $1 AND received_at > $2 AND received_at <= $3
"""
CLAIM_RUN = """
INSERT INTO digest_run (bin_id, day, digest_id, items) VALUES ($1, $2, $3, $4)
ON CONFLICT (bin_id, day) DO NOTHING
"""
MARK_RESENT = "UPDATE digest_run SET resent = resent + 1 WHERE bin_id = $1 AND day = $2"
DAY_DONE = "SELECT EXISTS (SELECT 1 FROM digest_day WHERE day = $1)"
MARK_DAY_DONE = """
INSERT INTO digest_day (day, digests) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING
"""


async def collect(conn: Connection, item: PoliceNewsPublishedData) -> None:
    await conn.execute(
        INSERT_NEWS_ITEM,
        item.news_id,
        item.police_zone,
        item.category.value,
        item.occurred_at,
        item.place,
        item.published_info,
    )


async def count_by_zone(conn: Connection) -> dict[str, int]:
    return {r["police_zone"]: r["items"] for r in await conn.fetch(COUNT_NEWS_BY_ZONE)}


async def project_bin(conn: Connection, data: BinRegisteredData) -> None:
    await conn.execute(
        UPSERT_BIN,
        data.bin_id,
        data.bin_name,
        data.kind.value,
        data.municipality,
        data.police_zone,
        [lang.value for lang in data.communication_plan.languages],
    )


async def project_status(conn: Connection, data: BinStatusChangedData) -> None:
    await conn.execute(UPSERT_STATUS, data.bin_id, data.status.value, data.changed_at)


def _bin(row: Any) -> tuple[DigestBin, str]:
    return (
        DigestBin(
            bin_id=row["bin_id"],
            kind=BinKind(row["kind"]),
            police_zone=row["police_zone"],
            municipality=row["municipality"],
            languages=list(row["languages"]),
        ),
        row["bin_name"],
    )


async def bins(conn: Connection) -> list[tuple[DigestBin, str]]:
    return [_bin(row) for row in await conn.fetch(SELECT_BINS)]


async def get_bin(conn: Connection, bin_id: uuid.UUID) -> tuple[DigestBin, str] | None:
    row = await conn.fetchrow(SELECT_BIN, bin_id)
    return _bin(row) if row else None


async def zone_news(
    conn: Connection, police_zone: str, start: datetime, end: datetime
) -> list[NewsItem]:
    rows = await conn.fetch(SELECT_ZONE_NEWS, police_zone, start, end)
    return [
        NewsItem(
            news_id=r["news_id"],
            police_zone=r["police_zone"],
            category=PoliceNewsCategory(r["category"]),
            occurred_at=r["occurred_at"],
            place=r["place"],
            published_info=r["published_info"],
            published_at=r["published_at"],
        )
        for r in rows
    ]


async def claim_run(
    conn: Connection, bin_id: uuid.UUID, day: date, digest_id: uuid.UUID, items: int
) -> bool:
    """True for the one replica that gets to compile this BIN's digest of this day."""
    return bool(await conn.execute(CLAIM_RUN, bin_id, day, digest_id, items) == "INSERT 0 1")


async def mark_resent(conn: Connection, bin_id: uuid.UUID, day: date) -> None:
    await conn.execute(MARK_RESENT, bin_id, day)


async def day_done(conn: Connection, day: date) -> bool:
    return bool(await conn.fetchval(DAY_DONE, day))


async def mark_day_done(conn: Connection, day: date, digests: int) -> None:
    await conn.execute(MARK_DAY_DONE, day, digests)
