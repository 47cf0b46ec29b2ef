"""The provider port: what every adapter of a channel offers, and what it reports back.

An adapter speaks one provider kind's protocol (Kannel HTTP, SMPP 3.4, SMTP, Web Push, SIP).
It knows nothing of RabbitMQ, the ledger or failover: the connector hands it messages, it answers
one :class:`SubmitResult` per message, and later tells a :class:`ReportSink` what the
provider reported (delivery reports, bounces) and what members sent back (MO SMS).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from shared.events import DeliveryOutcome


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One delivery as an adapter sends it. Holds personal data: never log it whole."""

    delivery_id: uuid.UUID
    # E.164 for SMS, an e-mail address for e-mail, a subscription's JSON for push, the
    # member's E.164 numbers joined by commas, in order, for voice
    address: str
    language: str
    text: str
    priority: str = "urgent"  # "urgent" or "bulk"
    subject: str | None = None
    html: str | None = None
    # The member's one-click unsubscribe (preferences) link, for e-mail headers.
    unsubscribe_url: str | None = None


class SubmitStatus(enum.StrEnum):
    # The provider took it and will report later (a DLR, a bounce, or nothing in time).
    ACCEPTED = "accepted"
    # Final at once: the provider says it reached the member.
    DELIVERED = "delivered"
    # Refused for this message only; dispatch retries it later with the same id.
    TEMPORARY_FAILURE = "temporary_failure"
    # This address cannot be reached (invalid number, 550 user unknown): dispatch falls back.
    PERMANENT_FAILURE = "permanent_failure"
    # Certainly not handed to the provider (it went away mid-batch): the connector offers it
    # to the next provider of the channel.
    UNSENT = "unsent"
    # Handed over but unanswered when the link broke: the provider may have it. Offered
    # again like UNSENT (a possible duplicate, counted), since losing an alert is worse.
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    delivery_id: uuid.UUID
    status: SubmitStatus
    # The provider's ids for what it accepted: one per SMS part for SMPP, the SMTP queue id,
    # none where reports name our delivery id themselves (Kannel's dlr-url, VERP bounces).
    provider_message_ids: tuple[str, ...] = ()
    # A short reason, never personal data ("ESME_RINVDSTADR", "550 5.1.1").
    detail: str | None = None
    # A push service said the subscription is gone (404, 410): its endpoint, for the event
    # that tells the registry to forget it. Personal data: kept out of the repr.
    expired_endpoint: str | None = field(default=None, repr=False)
    # Voice: True when the member pressed 1 (a person heard it), False when the call was
    # answered without it (a person or a voicemail box), None for other channels.
    confirmed: bool | None = None


class ProviderUnavailable(Exception):
    """The provider cannot take anything now (connection refused, bind refused, HTTP 5xx):
    the connector tries the next provider of the same channel with the messages given."""


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a provider reported about a message it had accepted.

    Names the message by our delivery id where the provider echoes it (Kannel's dlr-url,
    a VERP return path) or else by the provider's message id (SMPP ``receipted_message_id``).
    ``outcome`` None means an intermediate report (SMSC accepted, queued): recorded, not final.
    """

    outcome: DeliveryOutcome | None
    delivery_id: uuid.UUID | None = None
    provider_message_id: str | None = None
    detail: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class InboundReply:
    """A member's message back (an MO SMS). Holds personal data: never log it."""

    sender: str  # E.164
    text: str
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ReportSink(Protocol):
    """Where adapters put what providers tell them after submission. Each call returns once
    the reports are durably recorded, so an adapter may then acknowledge them upstream."""

    async def reports(self, provider: str, reports: Sequence[DeliveryReport]) -> None: ...

    async def replies(self, provider: str, replies: Sequence[InboundReply]) -> None: ...


class Provider(Protocol):
    """One configured provider of one channel (one SMSC account, one mail relay)."""

    name: str
    channel: str

    async def start(self, sink: ReportSink) -> None:
        """Opens connections (binds) and starts taking reports; must not fail when the
        provider is down: :meth:`send` raises :class:`ProviderUnavailable` then."""

    async def stop(self) -> None: ...

    async def send(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Submits each message once and answers one result per message, in any order.
        Raises :class:`ProviderUnavailable` when it could submit none of them."""
