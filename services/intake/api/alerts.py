"""Urgent alerts: issue, follow, cancel, follow up, feed back; CAP; member responses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from services.intake import access, four_eyes, outgoing, repository
from services.intake.domain.cap import CapAlert, CapReference, render
from services.intake.domain.feedback import is_overdue
from services.intake.domain.privacy import guard_texts
from services.intake.errors import Conflict, NotFound, OutsideZone
from services.intake.four_eyes import FourEyesGate
from services.intake.outgoing import Issued
from services.intake.schemas import (
    Alert,
    AlertAccepted,
    AlertContent,
    AlertRequest,
    Cancellation,
    Feedback,
    FollowUp,
    NoticeAccepted,
    NoticeContent,
    OpenFeedback,
    PrivacyChange,
    PrivacyFinding,
    PrivacyPreview,
    PrivacyPreviewResult,
    ResponseCreate,
)
from services.intake.schemas import Response as MemberResponse
from shared.auth import CurrentPrincipal, Principal
from shared.database import Connection
from shared.dependencies import Runtime
from shared.working_days import BRUSSELS

router = APIRouter(tags=["alerts"])


def _accepted(request: Request, issued: Issued) -> AlertAccepted:
    dispatch_url = str(request.app.state.dispatch_url).rstrip("/")
    alert_id = issued.alert_id
    return AlertAccepted(
        alert_id=alert_id,
        status_url=str(request.url_for("get_alert", alert_id=alert_id)),
        progress_url=f"{dispatch_url}/alerts/{alert_id}/progress",
        cap_url=str(request.url_for("alert_as_cap", alert_id=alert_id)),
        privacy_changes=PrivacyChange.listed(issued.changes),
        awaiting_approval=bool(issued.approval_reasons),
        approval_reasons=issued.approval_reasons,
        reach=issued.reach,
    )


async def _alert_in_zone(
    conn: Connection, alert_id: uuid.UUID, principal: Principal, *, lock: bool = False
) -> Any:
    row = await repository.get_alert(conn, alert_id, lock=lock)
    if row is None:
        raise NotFound(f"no alert with id {alert_id}")
    for zone in (row["police_zone"] or "").split(","):
        access.check_zone(principal, zone)
    return row


@router.post(
    "/alerts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertAccepted,
    summary="Issue an urgent alert to active BINs; returns at once with where to follow it",
    description="An alert reaching more members than its zone allows, or BINs of several "
    "municipalities, is held (`awaiting_approval`) until a second operator of the zone "
    "approves it: `POST /alerts/{alert_id}/approval`.",
)
async def issue_alert(
    body: AlertRequest,
    request: Request,
    runtime: Runtime,
    principal: access.Police,
    gate: FourEyesGate,
) -> AlertAccepted:
    # The outbox commits the alert and its event together: the request never waits on the
    # broker, and no alert is lost if the broker is away.
    async with runtime.pool.acquire() as conn, conn.transaction():
        issued = await outgoing.issue_alert(
            conn,
            runtime,
            principal,
            gate,
            body,
            body.bin_ids,
            request.headers.get("x-correlation-id"),
        )
    return _accepted(request, issued)


async def _alert_view(conn: Connection, alert_id: uuid.UUID) -> Alert:
    row = await repository.get_alert(conn, alert_id)
    follow_ups = await repository.follow_ups(conn, alert_id)
    return Alert.model_validate({**dict(row), "follow_up_ids": follow_ups})


@router.get(
    "/alerts/feedback/open",
    response_model=list[OpenFeedback],
    summary="Activations still owing feedback (due by the next working day); overdue first",
)
async def open_feedback(
    runtime: Runtime,
    principal: access.Police,
    overdue: Annotated[bool, Query(description="Only those past their deadline")] = False,
) -> list[OpenFeedback]:
    now = datetime.now(UTC)
    today = now.astimezone(BRUSSELS).date()
    async with runtime.pool.acquire() as conn:
        rows = await repository.open_feedback(
            conn, access.zones_of(principal), today if overdue else None
        )
    return [
        OpenFeedback(
            alert_id=r["alert_id"],
            police_zone=r["police_zone"],
            issued_at=r["issued_at"],
            issued_by=r["issued_by"],
            bin_ids=list(r["bin_ids"]),
            feedback_due=r["feedback_due"],
            overdue=is_overdue(r["feedback_due"], now),
        )
        for r in rows
    ]


@router.get(
    "/alerts/awaiting-approval",
    response_model=list[Alert],
    summary="The zone's alerts held for a second operator's approval (four eyes), oldest first",
)
async def awaiting_approval(runtime: Runtime, principal: access.Police) -> list[Alert]:
    async with runtime.pool.acquire() as conn:
        rows = await four_eyes.awaiting_approval(conn, access.zones_of(principal))
    return [Alert.model_validate(dict(r)) for r in rows]


@router.post(
    "/alerts/{alert_id}/approval",
    response_model=Alert,
    summary="A second operator of the zone approves a held alert: it goes out at once",
    description="403 for the operator who asked for it; 409 once approved or cancelled, or "
    "once it has waited longer than `BIN_FOUR_EYES_MAX_HOLD_MINUTES` (then it is cancelled). "
    "Refusing it is cancelling it (`POST /alerts/{alert_id}/cancel`).",
)
async def approve(
    alert_id: uuid.UUID, runtime: Runtime, principal: access.Police, gate: four_eyes.FourEyesGate
) -> Alert:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _alert_in_zone(conn, alert_id, principal, lock=True)
        await four_eyes.approve(conn, runtime, gate.policy, principal, row)
        return await _alert_view(conn, alert_id)


@router.get("/alerts/{alert_id}", response_model=Alert)
async def get_alert(alert_id: uuid.UUID, runtime: Runtime, principal: access.Police) -> Alert:
    async with runtime.pool.acquire() as conn:
        await _alert_in_zone(conn, alert_id, principal)
        return await _alert_view(conn, alert_id)


@router.post(
    "/alerts/{alert_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Alert,
    summary="Cancel: deliveries not yet handed to a gateway are not sent",
)
async def cancel(
    alert_id: uuid.UUID, body: Cancellation, runtime: Runtime, principal: access.Police
) -> Alert:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await _alert_in_zone(conn, alert_id, principal, lock=True)
        if row["cancelled_at"] is not None:
            raise Conflict(f"the alert was cancelled at {row['cancelled_at']}")
        await outgoing.cancel_alert(conn, runtime, principal.subject, row, body.reason)
        return await _alert_view(conn, alert_id)


@router.post(
    "/alerts/{alert_id}/follow-ups",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertAccepted,
    summary='A follow-up to the same BINs ("suspect arrested, thank you")',
)
async def follow_up(
    alert_id: uuid.UUID,
    body: FollowUp,
    request: Request,
    runtime: Runtime,
    principal: access.Police,
    gate: FourEyesGate,
) -> AlertAccepted:
    async with runtime.pool.acquire() as conn, conn.transaction():
        original = await _alert_in_zone(conn, alert_id, principal)
        four_eyes.check_issued(original)
        issued = await outgoing.issue_alert(
            conn,
            runtime,
            principal,
            gate,
            AlertContent(
                texts=body.texts,
                channels=body.channels,
                privacy_decisions=body.privacy_decisions,
            ),
            list(original["bin_ids"]),
            request.headers.get("x-correlation-id"),
            report_id=original["report_id"],
            follows_alert_id=alert_id,
        )
    return _accepted(request, issued)


@router.post(
    "/alerts/{alert_id}/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=NoticeAccepted,
    summary="The case result for the alerted BINs' coordinators and members (e-mail/push)",
)
async def feedback(
    alert_id: uuid.UUID, body: Feedback, runtime: Runtime, principal: access.Police
) -> NoticeAccepted:
    async with runtime.pool.acquire() as conn, conn.transaction():
        original = await _alert_in_zone(conn, alert_id, principal)
        four_eyes.check_issued(original)
        targets = await outgoing.active_targets(conn, principal, list(original["bin_ids"]))
        notice_id, changes = await outgoing.publish_notice(
            conn,
            runtime,
            principal,
            NoticeContent(
                subjects=body.subjects,
                texts=body.texts,
                privacy_decisions=body.privacy_decisions,
            ),
            targets,
            "bins",
            follows_alert_id=alert_id,
        )
        # The feedback the circular expects: its deadline is met.
        await repository.close_feedback(conn, alert_id, notice_id)
    return NoticeAccepted(
        notice_id=notice_id,
        bin_ids=[t["bin_id"] for t in targets],
        privacy_changes=PrivacyChange.listed(changes),
    )


@router.get(
    "/alerts/{alert_id}/cap",
    response_class=Response,
    responses={200: {"content": {"application/cap+xml": {}}}},
    summary="The alert as an OASIS CAP 1.2 message",
)
async def alert_as_cap(
    alert_id: uuid.UUID, request: Request, runtime: Runtime, principal: access.Police
) -> Response:
    async with runtime.pool.acquire() as conn:
        row = await _alert_in_zone(conn, alert_id, principal)
        names = await repository.bins(conn, list(row["bin_ids"]))
        follows = None
        if row["follows_alert_id"] is not None:
            original = await repository.get_alert(conn, row["follows_alert_id"])
            follows = CapReference(original["alert_id"], original["issued_at"])
    settings = request.app.state.settings
    xml = render(
        CapAlert(
            alert_id=alert_id,
            sender=settings.cap_sender,
            sender_name=f"{settings.cap_sender_name} {row['police_zone']}",
            sent=row["issued_at"],
            texts=dict(row["texts"]),
            bin_names=sorted(str(n["bin_name"] or n["bin_id"]) for n in names.values()),
            expires=row["expires_at"],
            cancelled=row["cancelled_at"] is not None,
            follows=follows,
        )
    )
    return Response(xml, media_type="application/cap+xml")


@router.post(
    "/privacy/preview",
    response_model=PrivacyPreviewResult,
    summary="What the privacy guard would change in these texts, and what it asks about",
)
async def privacy_preview(body: PrivacyPreview, _: access.Police) -> PrivacyPreviewResult:
    guard = guard_texts(dict(body.texts), body.decisions())
    return PrivacyPreviewResult(
        texts=guard.texts,
        changes=PrivacyChange.listed(guard.changes),
        unresolved=PrivacyFinding.listed(guard.unresolved),
    )


@router.get("/alerts/{alert_id}/responses", response_model=list[MemberResponse])
async def list_responses(
    alert_id: uuid.UUID, runtime: Runtime, principal: access.Police
) -> list[MemberResponse]:
    async with runtime.pool.acquire() as conn:
        await _alert_in_zone(conn, alert_id, principal)
        rows = await repository.responses(conn, alert_id)
    return [MemberResponse.model_validate(dict(r)) for r in rows]


@router.post(
    "/alerts/{alert_id}/responses",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberResponse,
    summary="A member's response from an app (SMS replies arrive through dispatch)",
)
async def respond(
    alert_id: uuid.UUID, body: ResponseCreate, runtime: Runtime, principal: CurrentPrincipal
) -> MemberResponse:
    # Apps answer with the member's own token: its subject is the member's id.
    if principal.subject != str(body.member_id) and not principal.is_admin:
        raise OutsideZone("a member answers for themself only")
    values = {
        "response_id": uuid.uuid4(),
        "alert_id": alert_id,
        "member_id": body.member_id,
        "bin_id": body.bin_id,
        "channel": "app",
        "text": body.text,
        "received_at": datetime.now(UTC),
    }
    async with runtime.pool.acquire() as conn, conn.transaction():
        if not await repository.alert_exists(conn, alert_id):
            raise NotFound(f"no alert with id {alert_id}")
        await repository.insert_response(conn, values)
    return MemberResponse.model_validate(values)
