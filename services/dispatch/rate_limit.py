"""Gateway throughput limits (an SMS provider's messages per second), held across every
dispatch replica together: a token bucket per channel (:mod:`shared.rate_limit`)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.database import Connection
from shared.rate_limit import TokenBuckets

GATEWAY_RATES = TokenBuckets(table="gateway_rate", key="channel")


async def configure(conn: Connection, limits: Mapping[str, float]) -> None:
    """Sets the limits (messages per second per channel); a second of burst each."""
    await GATEWAY_RATES.configure(conn, limits)


async def take(conn: Connection, channel: str, count: int) -> None:
    """Waits until ``count`` messages may go to ``channel``'s gateway."""
    await GATEWAY_RATES.take(conn, channel, count)
