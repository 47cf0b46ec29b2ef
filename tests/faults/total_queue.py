"""A checker in the style of Jepsen's total-queue, for the fault tests' fan-outs.

Two histories are compared id by id, not by count (one lost delivery and one stray copy
would add up to the right total): the delivery ids dispatch recorded as handed over
(status past ``queued``, in its database) and the ids the receiving end finished (the
gateway simulator's ``/stats/delivery-ids``), with the copies the receiving end dropped.

- **lost**: handed over, never received: must be empty;
- **unexpected**: received, never handed over: must be empty;
- **duplicates**: copies offered again after a fault and dropped by id: at most the
  in-flight window (what was unconfirmed or unacked when the fault struck).

Behind the SMPP connector the receiving end is the SMSC, which knows numbers, not delivery
ids: :func:`check_at_smsc` compares the members' numbers dispatch handed over with the
destinations the SMSC took, and its duplicates are whole messages submitted twice to one
number, the copies the connector's ledger must keep from the provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass

import asyncpg
import httpx

from shared.database import read_write
from tests.peers.smsc import SmscSimulator


@dataclass(frozen=True)
class TotalQueue:
    handed: int
    received: int
    lost: frozenset[Hashable]  # delivery ids, or numbers at an SMSC
    unexpected: frozenset[Hashable]
    duplicates: int

    def __str__(self) -> str:
        return (
            f"handed over {self.handed}, received {self.received}, lost {len(self.lost)}, "
            f"unexpected {len(self.unexpected)}, duplicates {self.duplicates}"
        )


def compare(handed: set[Hashable], received: set[Hashable], duplicates: int) -> TotalQueue:
    return TotalQueue(
        handed=len(handed),
        received=len(received),
        lost=frozenset(handed - received),
        unexpected=frozenset(received - handed),
        duplicates=duplicates,
    )


async def connect(database_url: str) -> asyncpg.Connection:
    """A connection of dispatch's schema on whichever host is the primary now."""
    return await asyncpg.connect(
        read_write(database_url), server_settings={"search_path": "dispatch"}, timeout=5
    )


async def delivery_counts(database_url: str, alert_id: uuid.UUID) -> dict[str, int]:
    """Deliveries by status and the members reached; a connection of its own each time (the
    database may be restarting or failing over under the test), {} while it does not answer."""
    try:
        conn = await connect(database_url)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return {}
    try:
        rows = await conn.fetch(
            "SELECT status, count(*) AS n, count(DISTINCT member_id) AS members "
            "FROM delivery WHERE source_id = $1 GROUP BY status",
            alert_id,
        )
    except (OSError, asyncpg.PostgresError):
        return {}
    finally:
        await conn.close()
    counts = {row["status"]: row["n"] for row in rows}
    counts["members"] = sum(row["members"] for row in rows)
    return counts


def handed_over(counts: dict[str, int]) -> int:
    return sum(n for status, n in counts.items() if status not in ("queued", "members"))


async def check(database_url: str, gateway_url: str, alert_id: uuid.UUID) -> TotalQueue:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT delivery_id FROM delivery WHERE source_id = $1 AND status <> 'queued'",
            alert_id,
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        received = (await client.get("/stats/delivery-ids")).raise_for_status().json()
        stats = (await client.get("/stats")).raise_for_status().json()
    return compare(
        {row["delivery_id"] for row in rows},
        {uuid.UUID(key) for key in received},
        stats["duplicates"],
    )


async def check_at_smsc(database_url: str, smsc: SmscSimulator, alert_id: uuid.UUID) -> TotalQueue:
    """The members' numbers of every delivery handed over, against the SMSC's destinations
    (it writes them without the "+")."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT r.phones[1] AS number FROM delivery d JOIN recipient r USING (member_id) "
            "WHERE d.source_id = $1 AND d.status <> 'queued'",
            alert_id,
        )
    finally:
        await conn.close()
    stats = await smsc.astats(detail=True)
    return compare(
        {row["number"].removeprefix("+") for row in rows},
        set(stats["per_destination"]),
        stats["duplicates"],
    )
