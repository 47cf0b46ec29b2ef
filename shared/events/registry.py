"""Events the registry publishes: BINs and members."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.events.common import (
    BinKind,
    BinStatus,
    Channel,
    CommunicationPlan,
    Language,
    ShortText,
)
from shared.events.envelope import Envelope, EventData
from shared.events.visibility import Visibility


class BinRegisteredData(EventData):
    bin_id: uuid.UUID
    # Not "name": that key means a person's name to the log redaction and the privacy checks.
    bin_name: ShortText
    kind: BinKind
    municipality: ShortText
    police_zone: ShortText
    communication_plan: CommunicationPlan


class BinRegistered(Envelope[BinRegisteredData]):
    type: Literal["bin.registered.v1"] = "bin.registered.v1"


class BinStatusChangedData(EventData):
    bin_id: uuid.UUID
    status: BinStatus
    previous_status: BinStatus
    changed_at: datetime


class BinStatusChanged(Envelope[BinStatusChangedData]):
    """Public: a BIN moved in its lifecycle (only an active BIN may be alerted)."""

    type: Literal["bin.status_changed.v1"] = "bin.status_changed.v1"


class StreetSegmentData(EventData):
    # An area's street, tied to no person ("street" alone means an address to the redaction).
    street_name: ShortText
    from_number: int | None = Field(default=None, ge=0)
    to_number: int | None = Field(default=None, ge=0)
    parity: Literal["all", "even", "odd"] = "all"


class BinAreaChangedData(EventData):
    bin_id: uuid.UUID
    municipality: ShortText
    streets: list[StreetSegmentData] = Field(max_length=5000)
    neighbour_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)


class BinAreaChanged(Envelope[BinAreaChangedData]):
    """Public: a BIN's streets or neighbours changed (intake proposes adjacent BINs)."""

    type: Literal["bin.area_changed.v1"] = "bin.area_changed.v1"


class MemberJoinedData(EventData):
    member_id: uuid.UUID
    bin_id: uuid.UUID


class MemberJoined(Envelope[MemberJoinedData]):
    """Public: that a member joined, never who."""

    type: Literal["member.joined.v1"] = "member.joined.v1"


class MemberContact(EventData):
    phones: list[Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]] = Field(max_length=3)
    email: str | None = Field(default=None, max_length=254)
    push_token: str | None = Field(default=None, max_length=4096)


class MemberRegisteredData(EventData):
    member_id: uuid.UUID
    bin_id: uuid.UUID
    language: Language
    contact: MemberContact
    # Municipalities pay SMS for one member per housing unit; the others get e-mail/push.
    subsidised_sms: bool = True
    # The channels the member accepts; empty: whatever the BIN's communication plan says.
    channels: list[Channel] = Field(default_factory=list, max_length=4)
    # Suspended under the house rules: nothing is sent to the member until then.
    suspended_until: datetime | None = None
    # The member replied STOP to an SMS: no SMS until they reply START.
    sms_opted_out: bool = False
    # Quiet hours each day (Brussels time) and a vacation pause: messages wait, not dropped.
    quiet_from: time | None = None
    quiet_until: time | None = None
    paused_until: datetime | None = None
    # Unsubscribed from the daily digest (other news and alerts still come). Additive: an
    # older event without it means subscribed.
    digest_subscribed: bool = True


class MemberRegistered(Envelope[MemberRegisteredData]):
    """Private: carries contact data, for dispatch's recipient projection only."""

    visibility: ClassVar[Visibility] = Visibility.PRIVATE
    type: Literal["member.registered.v1"] = "member.registered.v1"


class MemberChanged(Envelope[MemberRegisteredData]):
    """Private: a member's contact data, language or SMS subsidy changed (full snapshot)."""

    visibility: ClassVar[Visibility] = Visibility.PRIVATE
    type: Literal["member.changed.v1"] = "member.changed.v1"


class MemberLeft(Envelope[MemberJoinedData]):
    """Public: a member left a BIN (never who)."""

    type: Literal["member.left.v1"] = "member.left.v1"


class MemberErasedData(EventData):
    member_id: uuid.UUID


class MemberErased(Envelope[MemberErasedData]):
    """Public: a member's personal data is to be forgotten everywhere (GDPR erasure)."""

    type: Literal["member.erased.v1"] = "member.erased.v1"
