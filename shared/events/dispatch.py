"""Gateway work from dispatch and the gateways' receipts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.common import (
    Channel,
    DeliveryOutcome,
    Language,
    MessageText,
    Priority,
    ShortText,
)
from shared.events.envelope import Envelope, EventData
from shared.events.visibility import Visibility


class DeliveryWork(EventData):
    # The gateway's idempotency key: the same delivery id is never sent twice.
    delivery_id: uuid.UUID
    # SMS: an E.164 number; e-mail: an address; push: the subscription's JSON; voice: the
    # member's E.164 numbers in the order to ring them, joined by commas ("+32...,+32...").
    address: str = Field(min_length=1, max_length=4096)
    language: Language
    # SMS and voice take the text; e-mail takes subject, text and HTML (digests are long).
    text: str = Field(min_length=1, max_length=200_000)
    subject: str | None = Field(default=None, max_length=200)
    html: str | None = Field(default=None, max_length=500_000)
    # The member's preferences link, where a message offers one (notices, digests): an
    # e-mail gateway puts it in List-Unsubscribe / List-Unsubscribe-Post (RFC 8058).
    unsubscribe_url: str | None = Field(default=None, max_length=2000)


class DeliveryRequestedData(EventData):
    batch_id: uuid.UUID
    channel: Channel
    priority: Priority
    source_id: uuid.UUID
    deliveries: list[DeliveryWork] = Field(min_length=1, max_length=5000)


class DeliveryRequested(Envelope[DeliveryRequestedData]):
    """Work for a gateway: a batch of deliveries of one channel and priority."""

    visibility: ClassVar[Visibility] = Visibility.GATEWAY
    type: Literal["delivery.requested.v1"] = "delivery.requested.v1"


class DeliveryReceipt(EventData):
    delivery_id: uuid.UUID
    outcome: DeliveryOutcome
    at: datetime
    detail: str | None = Field(default=None, max_length=500)
    # Voice only, for a delivered call: True when the member pressed 1 (a person heard it),
    # False when it was answered without that (a person or a voicemail box: SIP cannot tell
    # them apart). Absent for other channels and failures. Additive: older gateways omit it.
    confirmed: bool | None = None


class MemberReply(EventData):
    """A member's answer to an alert, carried on a receipt (an SMS reply, say)."""

    delivery_id: uuid.UUID
    text: MessageText
    received_at: datetime


class DeliveryReceiptedData(EventData):
    gateway: ShortText
    channel: Channel
    receipts: list[DeliveryReceipt] = Field(default_factory=list, max_length=5000)
    replies: list[MemberReply] = Field(default_factory=list, max_length=5000)


class DeliveryReceipted(Envelope[DeliveryReceiptedData]):
    """From a gateway: what became of a batch of deliveries."""

    visibility: ClassVar[Visibility] = Visibility.GATEWAY
    type: Literal["delivery.receipted.v1"] = "delivery.receipted.v1"


class MemberRepliedData(EventData):
    alert_id: uuid.UUID
    member_id: uuid.UUID
    bin_id: uuid.UUID
    channel: Channel
    # Free text from a member: may hold personal data, so this event is private.
    text: MessageText
    received_at: datetime


class MemberReplied(Envelope[MemberRepliedData]):
    """Dispatch forwards a member's reply to intake, which shows it to operators."""

    visibility: ClassVar[Visibility] = Visibility.PRIVATE
    type: Literal["member.replied.v1"] = "member.replied.v1"


class MemberSmsOptOutChangedData(EventData):
    member_id: uuid.UUID
    opted_out: bool
    at: datetime


class MemberSmsOptOutChanged(Envelope[MemberSmsOptOutChangedData]):
    """A member replied STOP (or START) to an SMS: dispatch applied it; the registry records
    it as the member's preference. Private: it is about one person."""

    visibility: ClassVar[Visibility] = Visibility.PRIVATE
    type: Literal["member.sms_opt_out_changed.v1"] = "member.sms_opt_out_changed.v1"


class DeliveryFailedData(EventData):
    delivery_id: uuid.UUID
    source_id: uuid.UUID
    bin_id: uuid.UUID
    channel: Channel
    attempts: int
    reason: ShortText


class DeliveryFailed(Envelope[DeliveryFailedData]):
    """A delivery that no channel could make, after every retry and fallback."""

    type: Literal["delivery.failed.v1"] = "delivery.failed.v1"


class DeliveryRetryDueData(EventData):
    deliveries: list[uuid.UUID] = Field(min_length=1, max_length=5000)


class DeliveryRetryDue(Envelope[DeliveryRetryDueData]):
    """Dispatch's note to itself, back from a delay queue: these deliveries are due again."""

    visibility: ClassVar[Visibility] = Visibility.PRIVATE
    type: Literal["delivery.retry_due.v1"] = "delivery.retry_due.v1"


class FanoutSliceDueData(EventData):
    source_id: uuid.UUID
    slice: int = Field(ge=0, lt=256)
    slices: int = Field(ge=2, le=256)


class FanoutSliceDue(Envelope[FanoutSliceDueData]):
    """Dispatch's note to itself: a replica fans this slice of a large fan-out's members out."""

    visibility: ClassVar[Visibility] = Visibility.PRIVATE
    type: Literal["dispatch.fanout_slice_due.v1"] = "dispatch.fanout_slice_due.v1"


class ChannelProgress(EventData):
    targeted: int
    delivered: int = 0
    failed: int = 0
    # Voice: of the delivered, the calls where the member pressed 1 (a person heard it); the
    # rest reached the phone or its voicemail.
    confirmed: int = 0


class FanoutProgressedData(EventData):
    """Where a fan-out stands, in counts only (no member is named)."""

    source_id: uuid.UUID
    targeted: int
    delivered: int
    failed: int
    pending: int
    channels: dict[Channel, ChannelProgress]


class FanoutProgressed(Envelope[FanoutProgressedData]):
    """Live progress of an alert, notice or digest; at most one a second per fan-out."""

    type: Literal["fanout.progressed.v1"] = "fanout.progressed.v1"
