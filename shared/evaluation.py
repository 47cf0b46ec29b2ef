"""The yearly evaluation report's parts, as each service serves them over HTTP and the registry
composes them: the registry's members, intake's activations, replies and feedback, dispatch's
messages, reach, timings and costs. One definition read by producer and consumer alike, as
the events are; counts only, never personal data.

Years and months are calendar periods in UTC, the same in every service, so parts add up.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import HTTPException, Path, status
from pydantic import BaseModel, Field

from shared.auth import Principal, Role

# Police of the BIN's zone; staff of its municipality; the evaluation is held with them.
POLICE = (Role.OPERATOR, Role.MANDATED_OFFICER, Role.POLICE_CHIEF)
MUNICIPALITY = (Role.PREVENTION_OFFICER, Role.MAYOR)
FIRST_YEAR, LAST_YEAR = 2000, 2100


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def may_read_bin_evaluation(
    principal: Principal, bin_id: uuid.UUID, police_zone: str, municipality: str
) -> bool:
    """The BIN's coordinator, the police of its zone, its municipality's prevention officer
    or mayor, and admins."""
    if principal.is_admin:
        return True
    coordinator = Role.COORDINATOR in principal.roles and bin_id in principal.bin_ids
    police = bool(principal.roles.intersection(POLICE)) and police_zone in principal.police_zones
    municipal = (
        bool(principal.roles.intersection(MUNICIPALITY))
        and municipality in principal.municipalities
    )
    return coordinator or police or municipal


def may_read_zone_evaluation(principal: Principal, police_zone: str) -> bool:
    return principal.is_admin or (
        bool(principal.roles.intersection(POLICE)) and police_zone in principal.police_zones
    )


def require_bin_reader(
    principal: Principal, bin_id: uuid.UUID, police_zone: str, municipality: str
) -> None:
    """403 unless :func:`may_read_bin_evaluation`; every service's part says the same."""
    if not may_read_bin_evaluation(principal, bin_id, police_zone, municipality):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the BIN's evaluation is for its coordinator, its police zone, its municipality "
            "and admins",
        )


def require_zone_reader(principal: Principal, police_zone: str) -> None:
    if not may_read_zone_evaluation(principal, police_zone):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "a zone's evaluation is for its police and admins"
        )


# The year in every service's evaluation path.
Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, examples=[2026])]


# --- the registry's part ---------------------------------------------------------------------


class MemberGrowth(BaseModel):
    at_start: int = Field(description="members on 1 January")
    joined: int
    left: int = Field(description="removed under the house rules or erased on request")
    at_end: int = Field(description="members at the end of the year (or now, this year)")


# --- intake's part ---------------------------------------------------------------------------


class FeedbackFigures(BaseModel):
    on_time: int = 0
    late: int = 0
    missing: int = Field(default=0, description="past its deadline, none given")
    open: int = Field(default=0, description="not yet due")


class ActivityFigures(BaseModel):
    activations: int = Field(default=0, description="alerts issued, follow-ups not counted")
    follow_ups: int = 0
    cancelled: int = 0
    replies: int = Field(default=0, description="members' replies to the year's alerts")
    feedback: FeedbackFigures = Field(default_factory=FeedbackFigures)
    activations_by_month: list[int] = Field(default_factory=lambda: [0] * 12)


class ActivityPart(BaseModel):
    year: int
    total: ActivityFigures
    bins: dict[uuid.UUID, ActivityFigures] = Field(default_factory=dict)


# --- dispatch's part -------------------------------------------------------------------------


class ChannelFigures(BaseModel):
    deliveries: int = Field(default=0, description="messages meant for members on the channel")
    delivered: int = 0
    failed: int = 0
    billable: int = Field(default=0, description="handed to the gateway, retries included")
    confirmed: int = Field(
        default=0,
        description="voice: of the delivered, calls where the member pressed 1 (a person "
        "heard it); the rest reached the phone or its voicemail",
    )


class Timings(BaseModel):
    """Seconds from the alert reaching dispatch to a member's delivery receipt, per
    activation: the first member reached and the last one; median and 90th percentile over
    the year's activations. None when there was nothing to measure."""

    activations: int = 0
    first_median_s: float | None = None
    first_p90_s: float | None = None
    last_median_s: float | None = None
    last_p90_s: float | None = None


class DeliveryFigures(BaseModel):
    # Members of the year's activations: targeted, reached, and their ratio.
    targeted: int = 0
    delivered: int = 0
    reach: float | None = None
    timings: Timings = Field(default_factory=Timings)
    # Every kind of message (alerts, notices, digests, confirmations) per channel.
    channels: dict[str, ChannelFigures] = Field(default_factory=dict)
    messages_by_month: dict[str, list[int]] = Field(default_factory=dict)
    sms: int = Field(default=0, description="SMS billed")
    voice: int = Field(default=0, description="voice messages billed")
    cost_eur: float = 0.0


class DeliveryPart(BaseModel):
    year: int
    price_eur: dict[str, float]
    total: DeliveryFigures
    bins: dict[uuid.UUID, DeliveryFigures] = Field(default_factory=dict)
