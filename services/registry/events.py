"""The registry's events, built from its rows: the one place that decides what leaves the
registry, and on which route (public facts without personal data; contact data private)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.areas import StreetSegment
from shared.events import (
    BinAreaChanged,
    BinAreaChangedData,
    BinRegistered,
    BinRegisteredData,
    BinStatus,
    BinStatusChanged,
    BinStatusChangedData,
    Channel,
    CommunicationPlan,
    Language,
    MemberChanged,
    MemberContact,
    MemberErased,
    MemberErasedData,
    MemberJoined,
    MemberJoinedData,
    MemberLeft,
    MemberRegistered,
    MemberRegisteredData,
)
from shared.events.registry import StreetSegmentData
from shared.push_subscription import PushSubscription

SOURCE = "registry"


def bin_registered(bin_row: Any) -> BinRegistered:
    return BinRegistered.create(
        source=SOURCE,
        data=BinRegisteredData(
            bin_id=bin_row["bin_id"],
            bin_name=bin_row["name"],
            kind=bin_row["kind"],
            municipality=bin_row["municipality"],
            police_zone=bin_row["police_zone"],
            communication_plan=CommunicationPlan.model_validate(bin_row["communication_plan"]),
        ),
    )


def bin_status_changed(
    bin_id: uuid.UUID, previous: BinStatus, status: BinStatus, at: datetime
) -> BinStatusChanged:
    return BinStatusChanged.create(
        source=SOURCE,
        data=BinStatusChangedData(
            bin_id=bin_id, status=status, previous_status=previous, changed_at=at
        ),
    )


def bin_area_changed(
    bin_id: uuid.UUID,
    municipality: str,
    streets: list[StreetSegment],
    neighbour_ids: list[uuid.UUID],
) -> BinAreaChanged:
    return BinAreaChanged.create(
        source=SOURCE,
        data=BinAreaChangedData(
            bin_id=bin_id,
            municipality=municipality,
            streets=[
                StreetSegmentData(
                    street_name=s.street,
                    from_number=s.from_number,
                    to_number=s.to_number,
                    parity=s.parity.value,
                )
                for s in streets
            ],
            neighbour_ids=neighbour_ids,
        ),
    )


def _push_address(stored: Any) -> str | None:
    """The subscription as dispatch's push_token: its compact JSON, the push address."""
    return PushSubscription.model_validate(stored).address() if stored else None


def _member_data(member: Any) -> MemberRegisteredData:
    return MemberRegisteredData(
        member_id=member["member_id"],
        bin_id=member["bin_id"],
        language=Language(member["language"]),
        contact=MemberContact(
            phones=list(member["phones"]),
            email=member["email"],
            push_token=_push_address(member.get("push_subscription")),
        ),
        subsidised_sms=member["subsidised_sms"],
        channels=[Channel(c) for c in member["channels"]],
        suspended_until=member.get("suspended_until"),
        sms_opted_out=bool(member.get("sms_opted_out", False)),
        quiet_from=member.get("quiet_from"),
        quiet_until=member.get("quiet_until"),
        paused_until=member.get("paused_until"),
        digest_subscribed=bool(member.get("digest_subscribed", True)),
    )


def member_joined(member: Any, correlation_id: str | None = None) -> list[Any]:
    """Public: that someone joined (ids only). Private: how dispatch reaches them."""
    return [
        MemberJoined.create(
            source=SOURCE,
            data=MemberJoinedData(member_id=member["member_id"], bin_id=member["bin_id"]),
            correlation_id=correlation_id,
        ),
        MemberRegistered.create(
            source=SOURCE, data=_member_data(member), correlation_id=correlation_id
        ),
    ]


def member_changed(member: Any) -> MemberChanged:
    return MemberChanged.create(source=SOURCE, data=_member_data(member))


def member_removed(member_id: uuid.UUID, bin_id: uuid.UUID) -> MemberLeft:
    """Removed under the house rules: the member leaves (their data is kept while the
    removal can be appealed)."""
    return MemberLeft.create(
        source=SOURCE, data=MemberJoinedData(member_id=member_id, bin_id=bin_id)
    )


def member_left(member_id: uuid.UUID, bin_id: uuid.UUID) -> list[Any]:
    """The member leaves, and every service forgets their personal data."""
    return [
        MemberLeft.create(source=SOURCE, data=MemberJoinedData(member_id=member_id, bin_id=bin_id)),
        MemberErased.create(source=SOURCE, data=MemberErasedData(member_id=member_id)),
    ]
