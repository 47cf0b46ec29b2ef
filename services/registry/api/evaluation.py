"""The yearly evaluation report of a BIN or a police zone (the lifecycle's "yearly
evaluation" step): members from the registry, activations from intake, deliveries from
dispatch, composed here, as JSON, CSV or a printable HTML page with charts."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.registry.domain.evaluation import (
    BinLine,
    EvaluationReport,
    charts,
    report_table,
)
from services.registry.domain.growth import Tenure, combined, growth
from services.registry.evaluation_parts import EvaluationParts
from shared.auth import CurrentPrincipal, presented_token
from shared.database import Connection
from shared.dependencies import Runtime
from shared.evaluation import (
    ActivityFigures,
    DeliveryFigures,
    MemberGrowth,
    Year,
    require_bin_reader,
    require_zone_reader,
    year_bounds,
)

router = APIRouter(tags=["evaluation"])
Format = Annotated[Literal["json", "csv", "html"], Query()]

SELECT_BIN = """
SELECT bin_id, name, municipality, police_zone, status FROM bin WHERE bin_id = $1
"""
SELECT_ZONE_BINS = """
SELECT bin_id, name, municipality, police_zone, status FROM bin
WHERE police_zone = $1 ORDER BY name, bin_id
"""
# Only BINs that existed before the year ended.
SELECT_TENURES = """
SELECT bin_id, joined_at, left_at FROM member_tenure WHERE bin_id = ANY($1::uuid[])
"""
_templates = Environment(
    loader=FileSystemLoader(FilePath(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}, "text/html": {}},
        "description": "The report as JSON, CSV or a printable HTML page (`format`)",
    },
    502: {"description": "intake or dispatch answered, but not with its part"},
    503: {"description": "intake or dispatch did not answer"},
}


async def _growth(
    conn: Connection, bin_ids: list[uuid.UUID], year: int
) -> dict[uuid.UUID, MemberGrowth]:
    start, end = year_bounds(year)
    tenures: dict[uuid.UUID, list[Tenure]] = {b: [] for b in bin_ids}
    for row in await conn.fetch(SELECT_TENURES, bin_ids):
        tenures[row["bin_id"]].append(Tenure(row["joined_at"], row["left_at"]))
    return {b: growth(t, start, end) for b, t in tenures.items()}


def _render(report: EvaluationReport, format: str) -> Response | EvaluationReport:
    name = report.bin_name or report.police_zone
    filename = f"evaluation-{report.year}-{_slug(name)}"
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(("scope", "section", "figure", "value"))
        writer.writerows(report_table(report))
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    if format == "html":
        page = _templates.get_template("evaluation.html").render(
            report=report, table=report_table(report), charts=charts(report)
        )
        return HTMLResponse(page)
    return report


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "report"


@router.get(
    "/bins/{bin_id}/evaluation/{year}",
    response_model=EvaluationReport,
    responses=REPORT_RESPONSES,
    summary="The BIN's yearly evaluation report",
)
async def bin_evaluation(
    bin_id: uuid.UUID,
    year: Year,
    runtime: Runtime,
    request: Request,
    principal: CurrentPrincipal,
    format: Format = "json",
) -> Any:
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(SELECT_BIN, bin_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no BIN with id {bin_id}")
        require_bin_reader(principal, bin_id, row["police_zone"], row["municipality"])
        members = (await _growth(conn, [bin_id], year))[bin_id]
    parts: EvaluationParts = request.app.state.evaluation_parts
    activity, deliveries = await parts.fetch(
        f"/bins/{bin_id}/evaluation/{year}", year, f"Bearer {presented_token(request)}"
    )
    report = EvaluationReport(
        scope="bin",
        year=year,
        generated_at=datetime.now(UTC),
        police_zone=row["police_zone"],
        bin_id=bin_id,
        bin_name=row["name"],
        municipality=row["municipality"],
        price_eur=deliveries.price_eur,
        members=members,
        activity=activity.total,
        deliveries=deliveries.total,
    )
    return _render(report, format)


@router.get(
    "/zones/{police_zone}/evaluation/{year}",
    response_model=EvaluationReport,
    responses=REPORT_RESPONSES,
    summary="The police zone's yearly evaluation report, with each of its BINs",
)
async def zone_evaluation(
    police_zone: Annotated[str, Path(min_length=1, max_length=100)],
    year: Year,
    runtime: Runtime,
    request: Request,
    principal: CurrentPrincipal,
    format: Format = "json",
) -> Any:
    require_zone_reader(principal, police_zone)
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(SELECT_ZONE_BINS, police_zone)
        members = await _growth(conn, [r["bin_id"] for r in rows], year)
    parts: EvaluationParts = request.app.state.evaluation_parts
    activity, deliveries = await parts.fetch(
        # Quoted: a zone's name must not reshape the path sent on with the caller's token.
        f"/zones/{quote(police_zone, safe='')}/evaluation/{year}",
        year,
        f"Bearer {presented_token(request)}",
    )
    lines = [
        BinLine(
            bin_id=r["bin_id"],
            name=r["name"],
            municipality=r["municipality"],
            status=r["status"],
            members=members[r["bin_id"]],
            activity=activity.bins.get(r["bin_id"], ActivityFigures()),
            deliveries=deliveries.bins.get(r["bin_id"], DeliveryFigures()),
        )
        for r in rows
    ]
    report = EvaluationReport(
        scope="zone",
        year=year,
        generated_at=datetime.now(UTC),
        police_zone=police_zone,
        price_eur=deliveries.price_eur,
        members=combined(members.values()),
        activity=activity.total,
        deliveries=deliveries.total,
        bins=lines,
    )
    return _render(report, format)
