"""Typed events: the envelope and the v1 catalog."""

from shared.events.catalog import ALL_EVENTS
from shared.events.common import (
    BinKind,
    Channel,
    CommunicationPlan,
    DeliveryOutcome,
    Language,
    Priority,
)
from shared.events.dispatch import (
    DeliveryReceipt,
    DeliveryReceipted,
    DeliveryReceiptedData,
    DeliveryRequested,
    DeliveryRequestedData,
    DeliveryWork,
)
from shared.events.envelope import Envelope, EventData
from shared.events.intake import (
    AlertIssued,
    AlertIssuedData,
    PoliceNewsCategory,
    PoliceNewsPublished,
    PoliceNewsPublishedData,
)
from shared.events.registry import (
    BinRegistered,
    BinRegisteredData,
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
from shared.events.visibility import Visibility

__all__ = [
    "ALL_EVENTS",
    "AlertIssued",
    "AlertIssuedData",
    "BinKind",
    "BinRegistered",
    "BinRegisteredData",
    "Channel",
    "CommunicationPlan",
    "DeliveryOutcome",
    "DeliveryReceipt",
    "DeliveryReceipted",
    "DeliveryReceiptedData",
    "DeliveryRequested",
    "DeliveryRequestedData",
    "DeliveryWork",
    "Envelope",
    "EventData",
    "Language",
    "MemberChanged",
    "MemberContact",
    "MemberErased",
    "MemberErasedData",
    "MemberJoined",
    "MemberJoinedData",
    "MemberLeft",
    "MemberRegistered",
    "MemberRegisteredData",
    "PoliceNewsCategory",
    "PoliceNewsPublished",
    "PoliceNewsPublishedData",
    "Priority",
    "Visibility",
]
