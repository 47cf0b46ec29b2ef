"""The BIN's SMS and voice cost of the month, from dispatch's cost report (GET /costs).

Dispatch owns the deliveries, so the registry asks it rather than counting; a dispatch that
does not answer makes the figure "not available", never the page fail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.logging import get_logger

log = get_logger(__name__)
TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class MonthCost:
    month: str
    sms: int
    voice: int
    cost_eur: float


def this_month(now: datetime | None = None) -> str:
    """Dispatch counts by the UTC month a fan-out started."""
    return (now or datetime.now(UTC)).strftime("%Y-%m")


def bin_cost(report: Any, bin_id: uuid.UUID) -> MonthCost | None:
    """The BIN's line of a cost report; a BIN without a line sent nothing billed (zero).
    ``None`` when the report is not what dispatch writes."""
    try:
        month = str(report["month"])
        for municipality in report["municipalities"]:
            for line in municipality["bins"]:
                if uuid.UUID(str(line["bin_id"])) == bin_id:
                    return MonthCost(
                        month, int(line["sms"]), int(line["voice"]), float(line["cost_eur"])
                    )
    except (KeyError, TypeError, ValueError):
        return None
    return MonthCost(month, 0, 0, 0.0)


async def month_cost(
    dispatch_url: str, token: str | None, bin_id: uuid.UUID, month: str
) -> MonthCost | None:
    """The caller's own token goes along: dispatch decides what it shows to whom."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.get(
                f"{dispatch_url.rstrip('/')}/costs", params={"month": month}, headers=headers
            )
    except httpx.HTTPError as error:
        log.warning("dispatch cost report unavailable", error=type(error).__name__)
        return None
    if response.status_code != 200:
        log.warning("dispatch cost report refused", status=response.status_code)
        return None
    try:
        return bin_cost(response.json(), bin_id)
    except ValueError:
        return None
