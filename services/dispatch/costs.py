"""What SMS and voice messages cost the municipalities that pay for them, per BIN and month."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel

from services.dispatch import aggregates, metrics
from shared.auth import CurrentPrincipal, Principal
from shared.database import Connection
from shared.dependencies import Runtime
from shared.evaluation import may_read_bin_evaluation
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime

# Every message handed to an SMS or voice gateway is billed, retries included, delivered or
# not: that is how providers bill. Counted by the month (UTC) the fan-out started, from the
# delivery details or, once those are purged, from the monthly aggregates (aggregates.py).
BILLED_CHANNELS = ("sms", "voice")


class BinCost(BaseModel):
    bin_id: uuid.UUID
    sms: int = 0
    voice: int = 0
    cost_eur: float = 0.0


class MunicipalityCost(BaseModel):
    municipality: str
    sms: int = 0
    voice: int = 0
    cost_eur: float = 0.0
    bins: list[BinCost]


class CostReport(BaseModel):
    month: str
    price_eur: dict[str, float]
    municipalities: list[MunicipalityCost]


router = APIRouter(tags=["costs"])


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "month must look like 2026-11"
        ) from None
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def cost_report(
    conn: Connection, month: str, prices: dict[str, float], reader: Principal | None = None
) -> CostReport:
    """The month's costs; for a ``reader``, only the BINs whose figures they may read (the
    people the yearly evaluation is for); without one (the metrics job), all."""
    start, end = _month_bounds(month)
    by_municipality: dict[str, dict[uuid.UUID, BinCost]] = {}
    for row in await aggregates.monthly(conn, aggregates.Scope(start, end)):
        if row["channel"] not in BILLED_CHANNELS or not row["billable"]:
            continue
        if reader is not None and not may_read_bin_evaluation(
            reader, row["bin_id"], row["police_zone"], row["municipality"]
        ):
            continue
        bins = by_municipality.setdefault(row["municipality"], {})
        line = bins.setdefault(row["bin_id"], BinCost(bin_id=row["bin_id"]))
        setattr(line, row["channel"], getattr(line, row["channel"]) + row["billable"])
        line.cost_eur = round(line.sms * prices["sms"] + line.voice * prices["voice"], 2)
    municipalities = [
        MunicipalityCost(
            municipality=name,
            sms=sum(b.sms for b in bins.values()),
            voice=sum(b.voice for b in bins.values()),
            cost_eur=round(sum(b.cost_eur for b in bins.values()), 2),
            bins=sorted(bins.values(), key=lambda b: -b.cost_eur),
        )
        for name, bins in sorted(by_municipality.items())
    ]
    return CostReport(month=month, price_eur=prices, municipalities=municipalities)


@router.get("/costs", response_model=CostReport, summary="SMS and voice costs of a month")
async def get_costs(
    runtime: Runtime,
    request: Request,
    principal: CurrentPrincipal,
    month: str = Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"]),
) -> CostReport:
    """The BINs the caller may see: a municipality's staff theirs, a zone's police theirs,
    a coordinator their BINs' lines."""
    async with runtime.pool.acquire() as conn:
        return await cost_report(conn, month, request.app.state.prices, principal)


def publish_metrics(report: CostReport) -> None:
    for line in report.municipalities:
        metrics.MONTH_COST_EUR.labels(line.municipality).set(line.cost_eur)
        metrics.MONTH_MESSAGES.labels(line.municipality, "sms").set(line.sms)
        metrics.MONTH_MESSAGES.labels(line.municipality, "voice").set(line.voice)


COST_METRICS_INTERVAL_SECONDS = 300.0


def cost_metrics_job(runtime: ServiceRuntime, prices: dict[str, float]) -> PeriodicJob:
    """Refreshes the month's cost gauges every five minutes: each refresh aggregates the
    month's deliveries (a national alert's million rows included), which once a minute was
    the largest single use of PostgreSQL during a national alert's benchmark."""

    async def refresh() -> None:
        month = datetime.now(UTC).strftime("%Y-%m")
        async with runtime.pool.acquire() as conn:
            publish_metrics(await cost_report(conn, month, prices))

    return PeriodicJob("cost metrics", COST_METRICS_INTERVAL_SECONDS, refresh)
