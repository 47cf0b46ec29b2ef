"""Reports an operator logs, the BINs proposed for them, and the evaluation decision."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from services.intake import access, outgoing, repository
from services.intake.domain.targets import propose
from services.intake.errors import Conflict, NotFound
from services.intake.four_eyes import FourEyesGate
from services.intake.schemas import (
    Decision,
    Evaluation,
    EvaluationCreate,
    Place,
    ProposedTarget,
    Report,
    ReportCreate,
)
from shared.auth import Principal
from shared.database import Connection
from shared.dependencies import Runtime

router = APIRouter(tags=["reports"])


def _report(row: Any) -> Report:
    evaluation = None
    if row["decision"] is not None:
        evaluation = Evaluation(
            decision=row["decision"],
            reason=row["reason"],
            bin_ids=list(row["bin_ids"]),
            outcome_id=row["outcome_id"],
            decided_by=row["decided_by"],
            decided_at=row["decided_at"],
        )
    return Report(
        report_id=row["report_id"],
        police_zone=row["police_zone"],
        source=row["source"],
        category=row["category"],
        facts=row["facts"],
        place=Place(
            municipality=row["municipality"],
            street=row["street"],
            house_number=row["house_number"],
        ),
        occurred_at=row["occurred_at"],
        suspects=row["suspects"],
        vehicles=row["vehicles"],
        logged_by=row["logged_by"],
        logged_at=row["logged_at"],
        status=row["status"],
        evaluation=evaluation,
    )


async def _report_in_zone(
    conn: Connection, report_id: uuid.UUID, principal: Principal, *, lock: bool = False
) -> Any:
    row = await repository.get_report(conn, report_id, lock=lock)
    if row is None:
        raise NotFound(f"no report with id {report_id}")
    access.check_zone(principal, row["police_zone"])
    return row


@router.post("/reports", status_code=status.HTTP_201_CREATED, response_model=Report)
async def log_report(body: ReportCreate, runtime: Runtime, principal: access.Police) -> Report:
    access.check_zone(principal, body.police_zone)
    report_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        await repository.insert_report(
            conn,
            report_id,
            {
                "police_zone": body.police_zone,
                "source": body.source.value,
                "category": body.category.value,
                "facts": body.facts,
                "municipality": body.place.municipality,
                "street": body.place.street,
                "house_number": body.place.house_number,
                "occurred_at": body.occurred_at,
                "suspects": body.suspects,
                "vehicles": body.vehicles,
                "logged_by": principal.subject,
            },
        )
        await repository.audit(
            conn,
            principal.subject,
            "report.logged",
            body.police_zone,
            "report",
            report_id,
            {"source": body.source.value, "category": body.category.value},
        )
        return _report(await repository.get_report(conn, report_id))


@router.get("/reports", response_model=list[Report], summary="Incoming reports, newest first")
async def list_reports(
    runtime: Runtime,
    principal: access.Police,
    status_: Annotated[str | None, Query(alias="status", pattern="^(open|evaluated)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[Report]:
    async with runtime.pool.acquire() as conn:
        rows = await repository.list_reports(
            conn, access.zones_of(principal), status_, limit, offset
        )
    return [_report(r) for r in rows]


@router.get("/reports/{report_id}", response_model=Report)
async def get_report(report_id: uuid.UUID, runtime: Runtime, principal: access.Police) -> Report:
    async with runtime.pool.acquire() as conn:
        return _report(await _report_in_zone(conn, report_id, principal))


@router.get(
    "/reports/{report_id}/proposal",
    response_model=list[ProposedTarget],
    summary="The BINs to alert: those covering the place, then their neighbours",
)
async def proposal(
    report_id: uuid.UUID, runtime: Runtime, principal: access.Police
) -> list[ProposedTarget]:
    async with runtime.pool.acquire() as conn:
        report = await _report_in_zone(conn, report_id, principal)
        candidates = await repository.candidate_bins(conn, report["street"])
        proposed = propose(
            candidates, report["municipality"], report["street"], report["house_number"]
        )
        details = await repository.bins(conn, [p.bin_id for p in proposed])
    return [
        ProposedTarget(
            bin_id=p.bin_id,
            bin_name=details[p.bin_id]["bin_name"],
            reason=p.reason,
            active=p.active,
            selected=p.selected,
            urgent_channels=list(details[p.bin_id]["urgent_channels"]),
        )
        for p in proposed
    ]


@router.post(
    "/reports/{report_id}/evaluation",
    response_model=Report,
    status_code=status.HTTP_201_CREATED,
    summary="Decide: activate BINs, publish a notice, keep as police news, or no action",
)
async def evaluate(
    report_id: uuid.UUID,
    body: EvaluationCreate,
    request: Request,
    runtime: Runtime,
    principal: access.Police,
    gate: FourEyesGate,
) -> Report:
    async with runtime.pool.acquire() as conn, conn.transaction():
        report = await _report_in_zone(conn, report_id, principal, lock=True)
        if report["decision"] is not None:
            raise Conflict(
                f"the report was evaluated by {report['decided_by']} at {report['decided_at']}"
            )
        outcome_id: uuid.UUID | None = None
        if body.decision is Decision.ACTIVATE and body.alert is not None:
            issued = await outgoing.issue_alert(
                conn,
                runtime,
                principal,
                gate,
                body.alert,
                body.bin_ids,
                request.headers.get("x-correlation-id"),
                report_id=report_id,
            )
            outcome_id = issued.alert_id
        elif body.decision is Decision.NOTICE and body.notice is not None:
            targets = await outgoing.active_targets(conn, principal, body.bin_ids)
            outcome_id, _ = await outgoing.publish_notice(
                conn, runtime, principal, body.notice, targets, "bins"
            )
        elif body.decision is Decision.POLICE_NEWS and body.news is not None:
            place = ", ".join(p for p in (report["municipality"], report["street"]) if p)
            outcome_id, _ = await outgoing.record_news(
                conn,
                runtime,
                principal,
                body.news,
                report["police_zone"],
                place,
                report["occurred_at"],
                report_id,
            )
        await repository.record_evaluation(
            conn,
            report_id,
            body.decision.value,
            body.reason,
            body.bin_ids,
            outcome_id,
            principal.subject,
        )
        await repository.audit(
            conn,
            principal.subject,
            "report.evaluated",
            report["police_zone"],
            "report",
            report_id,
            {
                "decision": body.decision.value,
                "outcome_id": str(outcome_id) if outcome_id else None,
            },
        )
        return _report(await repository.get_report(conn, report_id))
