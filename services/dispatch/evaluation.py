"""Dispatch's part of the yearly evaluation report, for the registry to compose: messages per
channel, reach, timings and costs of a BIN or a police zone, from the aggregates and the
delivery details not purged yet, so the figures survive the retention purge."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status

from services.dispatch import aggregates
from services.dispatch.domain.evaluation import (
    ActivationOutcome,
    MonthlyMessages,
    delivery_part,
)
from shared.auth import CurrentPrincipal
from shared.database import Connection
from shared.dependencies import Runtime
from shared.evaluation import (
    DeliveryPart,
    Year,
    require_bin_reader,
    require_zone_reader,
    year_bounds,
)

router = APIRouter(tags=["evaluation"])
SELECT_BIN = "SELECT police_zone, municipality FROM bin_projection WHERE bin_id = $1"


async def _part(
    conn: Connection, scope: aggregates.Scope, year: int, prices: dict[str, float]
) -> DeliveryPart:
    messages = [_messages(r) for r in await aggregates.monthly(conn, scope)]
    outcomes = [_outcome(r) for r in await aggregates.activations(conn, scope)]
    return delivery_part(year, messages, outcomes, prices, per_bin=scope.bin_id is None)


def _messages(row: Any) -> MonthlyMessages:
    return MonthlyMessages(
        row["month"].month,
        row["bin_id"],
        row["channel"],
        row["deliveries"],
        row["delivered"],
        row["failed"],
        row["billable"],
        row["confirmed"],
    )


def _outcome(row: Any) -> ActivationOutcome:
    return ActivationOutcome(
        row["source_id"],
        row["bin_id"],
        row["targeted"],
        row["delivered"],
        row["first_delivery_s"],
        row["last_delivery_s"],
    )


@router.get(
    "/bins/{bin_id}/evaluation/{year}",
    response_model=DeliveryPart,
    summary="A BIN's messages, reach, timings and costs of a year",
)
async def bin_evaluation(
    bin_id: uuid.UUID,
    year: Year,
    runtime: Runtime,
    request: Request,
    principal: CurrentPrincipal,
) -> DeliveryPart:
    async with runtime.pool.acquire() as conn:
        found = await conn.fetchrow(SELECT_BIN, bin_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"dispatch knows no BIN {bin_id}")
        require_bin_reader(principal, bin_id, found["police_zone"], found["municipality"])
        start, end = year_bounds(year)
        scope = aggregates.Scope(start, end, bin_id=bin_id)
        return await _part(conn, scope, year, request.app.state.prices)


@router.get(
    "/zones/{police_zone}/evaluation/{year}",
    response_model=DeliveryPart,
    summary="A police zone's messages, reach, timings and costs of a year, per BIN",
)
async def zone_evaluation(
    police_zone: Annotated[str, Path(min_length=1, max_length=100)],
    year: Year,
    runtime: Runtime,
    request: Request,
    principal: CurrentPrincipal,
) -> DeliveryPart:
    require_zone_reader(principal, police_zone)
    start, end = year_bounds(year)
    async with runtime.pool.acquire() as conn:
        scope = aggregates.Scope(start, end, police_zone=police_zone)
        return await _part(conn, scope, year, request.app.state.prices)
