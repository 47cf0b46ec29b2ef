"""The v1 event catalog: every event the services exchange, as typed models.

Naming: facts in the past tense (``alert.issued.v1``), commands for gateways as requests
(``delivery.requested.v1``). A breaking change adds a ``.v2`` type beside the old one;
additive optional fields keep the version.

Public events carry no personal data. Member contact data travels only in PRIVATE events
(``member.registered.v1``) and in GATEWAY work, on exchanges outsiders cannot bind to.
"""

from __future__ import annotations

from shared.events.digest import DigestCompiled
from shared.events.dispatch import (
    DeliveryFailed,
    DeliveryReceipted,
    DeliveryRequested,
    FanoutProgressed,
    MemberReplied,
    MemberSmsOptOutChanged,
)
from shared.events.envelope import Envelope, EventData
from shared.events.intake import AlertCancelled, AlertIssued, NoticePublished, PoliceNewsPublished
from shared.events.push import PushSubscriptionExpired
from shared.events.registry import (
    BinAreaChanged,
    BinRegistered,
    BinStatusChanged,
    MemberChanged,
    MemberErased,
    MemberJoined,
    MemberLeft,
    MemberRegistered,
)

# Every event type of the system; a new event is added here as well as in its module.
ALL_EVENTS: tuple[type[Envelope[EventData]], ...] = (  # type: ignore[assignment]
    BinRegistered,
    BinStatusChanged,
    BinAreaChanged,
    MemberJoined,
    MemberRegistered,
    MemberChanged,
    MemberLeft,
    MemberErased,
    AlertIssued,
    AlertCancelled,
    NoticePublished,
    PoliceNewsPublished,
    DigestCompiled,
    DeliveryRequested,
    DeliveryReceipted,
    DeliveryFailed,
    FanoutProgressed,
    MemberReplied,
    MemberSmsOptOutChanged,
    PushSubscriptionExpired,
)
