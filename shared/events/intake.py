"""Events intake publishes: alerts, notices, police news."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from shared.events.common import (
    Channel,
    Language,
    MessageText,
    ShortText,
)
from shared.events.envelope import Envelope, EventData


class AlertIssuedData(EventData):
    alert_id: uuid.UUID
    bin_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    texts: dict[Language, MessageText] = Field(min_length=1)
    # Empty: each BIN's communication plan decides.
    channels: list[Channel] = Field(default_factory=list, max_length=4)
    expires_at: datetime | None = None
    # A follow-up ("suspect arrested, thank you") names the alert it follows.
    follows_alert_id: uuid.UUID | None = None


class AlertIssued(Envelope[AlertIssuedData]):
    type: Literal["alert.issued.v1"] = "alert.issued.v1"


class AlertCancelledData(EventData):
    alert_id: uuid.UUID
    reason: ShortText


class AlertCancelled(Envelope[AlertCancelledData]):
    """Deliveries of the alert not yet handed to a gateway are not sent."""

    type: Literal["alert.cancelled.v1"] = "alert.cancelled.v1"


class NoticePublishedData(EventData):
    """A non-urgent message (prevention tip, awareness, case result) by e-mail/push.

    Intake resolves zone-wide or municipality-wide notices to the BINs they cover, so
    dispatch only ever sees BIN ids.
    """

    notice_id: uuid.UUID
    bin_ids: list[uuid.UUID] = Field(min_length=1, max_length=5000)
    subjects: dict[Language, ShortText] = Field(min_length=1)
    texts: dict[Language, MessageText] = Field(min_length=1)
    # Empty: each BIN's communication plan (news channels) decides.
    channels: list[Channel] = Field(default_factory=list, max_length=4)
    follows_alert_id: uuid.UUID | None = None


class NoticePublished(Envelope[NoticePublishedData]):
    type: Literal["notice.published.v1"] = "notice.published.v1"


class PoliceNewsCategory(StrEnum):
    TRAFFIC_ACCIDENT_WITH_INJURIES = "traffic_accident_with_injuries"
    DAMAGE_VANDALISM = "damage_vandalism"
    SMALL_THEFT = "small_theft"
    BURGLARY_HOME = "burglary_home"
    BURGLARY_OTHER_BUILDING = "burglary_other_building"


class PoliceNewsPublishedData(EventData):
    news_id: uuid.UUID
    police_zone: ShortText
    category: PoliceNewsCategory
    occurred_at: datetime
    place: ShortText
    published_info: MessageText


class PoliceNewsPublished(Envelope[PoliceNewsPublishedData]):
    type: Literal["police_news.published.v1"] = "police_news.published.v1"
