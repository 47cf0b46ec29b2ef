"""Four-eyes approval of large alerts, the IO side: the reach counted by dispatch (its
recipient projection is the fan-out's own), the held alert stored, the approval recorded and
the alert's event let out. The rule itself is :mod:`services.intake.domain.four_eyes`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from services.intake import repository
from services.intake.domain.feedback import feedback_due
from services.intake.domain.four_eyes import Policy, Reason, approval_refusal
from services.intake.errors import Conflict, OutsideZone
from shared.auth import Principal, presented_token
from shared.database import Connection
from shared.events import AlertIssued, AlertIssuedData, Channel, Language
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

SOURCE = "intake"

APPROVE_ALERT = """
UPDATE alert SET approved_by = $2, approved_at = now(), feedback_due = $3
WHERE alert_id = $1 AND approved_at IS NULL
RETURNING approved_at
"""
# The zones' alerts still waiting for a second operator, oldest first.
SELECT_AWAITING = f"""
SELECT {repository.ALERT_COLUMNS} FROM alert
WHERE approval_reasons <> '{{}}' AND approved_at IS NULL AND cancelled_at IS NULL
  AND ($1::text[] IS NULL OR string_to_array(police_zone, ',') && $1::text[])
ORDER BY issued_at
LIMIT 200
"""


class ReachClient:
    """Dispatch's count of the members an alert to some BINs would reach."""

    def __init__(
        self,
        dispatch_url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.dispatch_url = dispatch_url.rstrip("/")
        self.timeout = timeout
        # Tests may serve dispatch in the same process.
        self.transport = transport

    async def members(self, bin_ids: Sequence[uuid.UUID], token: str | None) -> int | None:
        """The count, or None when dispatch does not answer it (the alert is then held)."""
        # The operator's own token: dispatch checks the BINs are in their zone itself.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with httpx.AsyncClient(
                base_url=self.dispatch_url,
                timeout=self.timeout,
                headers=headers,
                transport=self.transport,
            ) as client:
                response = await client.get("/reach", params=[("bin_id", str(b)) for b in bin_ids])
        except httpx.HTTPError as error:
            log.warning("reach not counted", error=type(error).__name__)
            return None
        if response.status_code != 200:
            log.warning("reach not counted", status=response.status_code)
            return None
        return int(response.json()["members"])


@dataclass(frozen=True)
class Gate:
    """The policy and the reach, for one request (the caller's token asks dispatch)."""

    policy: Policy
    reach: ReachClient
    token: str | None

    async def reasons(self, targets: Sequence[Any]) -> tuple[list[Reason], int | None]:
        zones = sorted({t["police_zone"] for t in targets})
        members = None
        if self.policy.counts_members(zones):
            members = await self.reach.members([t["bin_id"] for t in targets], self.token)
        municipalities = [t["municipality"] or "" for t in targets]
        return self.policy.reasons(zones, municipalities, members), members


def gate_of(request: Request) -> Gate:
    return Gate(request.app.state.four_eyes, request.app.state.reach, presented_token(request))


FourEyesGate = Annotated[Gate, Depends(gate_of)]


def awaiting(row: Any) -> bool:
    return bool(row["approval_reasons"]) and row["approved_at"] is None


def check_issued(row: Any) -> None:
    """Refuses what only an alert that went out may have (a follow-up, feedback)."""
    if awaiting(row):
        raise Conflict("the alert still waits for a second operator's approval")


def alert_event(row: Any) -> AlertIssued:
    """The event of a stored alert, as issuing it would have made it."""
    return AlertIssued.create(
        source=SOURCE,
        data=AlertIssuedData(
            alert_id=row["alert_id"],
            bin_ids=list(row["bin_ids"]),
            texts={Language(k): v for k, v in dict(row["texts"]).items()},
            channels=[Channel(c) for c in row["channels"]],
            expires_at=row["expires_at"],
            follows_alert_id=row["follows_alert_id"],
        ),
        correlation_id=row["correlation_id"],
    )


async def approve(
    conn: Connection, runtime: ServiceRuntime, policy: Policy, principal: Principal, row: Any
) -> None:
    """A second operator of the zone lets the held alert out (the caller locked the row and
    checked the zone)."""
    if row["cancelled_at"] is not None:
        raise Conflict(f"the alert was cancelled at {row['cancelled_at']}")
    if not row["approval_reasons"]:
        raise Conflict("the alert needed no approval")
    if row["approved_at"] is not None:
        raise Conflict(f"the alert was approved by {row['approved_by']} at {row['approved_at']}")
    if refusal := approval_refusal(row["issued_by"], principal.subject):
        raise OutsideZone(refusal)
    now = datetime.now(UTC)
    if policy.hold_lapsed(row["issued_at"], now):
        raise Conflict(
            f"the alert waited more than {minutes(policy.max_hold)} minutes for approval; "
            "issue a new one if it still holds"
        )
    if row["expires_at"] is not None and row["expires_at"] <= now:
        # An urgent alert approved after it lapsed would send stale news to everyone.
        raise Conflict(f"the alert expired at {row['expires_at']}; issue a new one")
    due = None if row["follows_alert_id"] else feedback_due(now)
    await conn.fetchval(APPROVE_ALERT, row["alert_id"], principal.subject, due)
    await repository.audit(
        conn,
        principal.subject,
        "alert.approved",
        row["police_zone"],
        "alert",
        row["alert_id"],
        {"requested_by": row["issued_by"], "reasons": list(row["approval_reasons"])},
    )
    await runtime.enqueue(conn, [alert_event(row)])


async def awaiting_approval(conn: Connection, zones: list[str] | None) -> list[Any]:
    return list(await conn.fetch(SELECT_AWAITING, zones))


def minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g}"
