"""Value types shared by the events of every service."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from shared.events.envelope import EventData


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    PUSH = "push"


class Language(StrEnum):
    NL = "nl"
    FR = "fr"
    DE = "de"


class BinKind(StrEnum):
    BIN = "bin"
    BIN_Z = "bin_z"


class BinStatus(StrEnum):
    """A BIN's lifecycle (the registry's rules in ``services/registry/domain/lifecycle.py``)."""

    PROPOSED = "proposed"
    CHARTER_DRAFTED = "charter_drafted"
    CHARTER_SIGNED = "charter_signed"
    SUBMITTED = "submitted"  # to the FOD Binnenlandse Zaken
    APPROVED = "approved"  # official: may start
    ACTIVE = "active"  # the only state in which a BIN may be alerted
    SUSPENDED = "suspended"
    DISSOLVED = "dissolved"


class Priority(StrEnum):
    """Urgent work never waits behind bulk work: they travel on separate queues."""

    URGENT = "urgent"
    BULK = "bulk"


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"
    PERMANENT_FAILURE = "permanent_failure"


ShortText = Annotated[str, Field(min_length=1, max_length=200)]
MessageText = Annotated[str, Field(min_length=1, max_length=1600)]


class CommunicationPlan(EventData):
    urgent_channels: list[Channel] = Field(min_length=1, max_length=4)
    news_channels: list[Channel] = Field(min_length=1, max_length=4)
    languages: list[Language] = Field(min_length=1, max_length=3)
    # Whether urgent alerts reach members in their quiet hours or vacation pause.
    urgent_overrides_member_quiet: bool = True
