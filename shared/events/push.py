"""Events about members' Web Push subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Envelope, EventData
from shared.events.visibility import Visibility
from shared.push_subscription import MAX_ENDPOINT


class PushSubscriptionExpiredData(EventData):
    # The subscription's endpoint (what identifies it): the registry forgets the subscription
    # with this endpoint, and only that one, so a member who subscribed again meanwhile keeps
    # the new one. Personal data.
    endpoint: str = Field(min_length=1, max_length=MAX_ENDPOINT)
    at: datetime


class PushSubscriptionExpired(Envelope[PushSubscriptionExpiredData]):
    """From a push gateway (the connectors): the push service said the subscription is
    gone. On the gateway exchange, where the work that carried the subscription came from;
    outsiders cannot bind to it."""

    visibility: ClassVar[Visibility] = Visibility.GATEWAY
    type: Literal["push.subscription_expired.v1"] = "push.subscription_expired.v1"
