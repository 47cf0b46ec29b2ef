"""Intake's HTTP request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Channel, Language

AlertText = Annotated[str, Field(min_length=1, max_length=1600)]


class AlertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bin_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    texts: dict[Language, AlertText] = Field(min_length=1, description="Alert text per language")
    channels: list[Channel] = Field(
        default_factory=list, max_length=4, description="Empty: each BIN's communication plan"
    )
    expires_at: datetime | None = None


class AlertAccepted(BaseModel):
    alert_id: uuid.UUID
    status_url: str
    progress_url: str


class Alert(BaseModel):
    alert_id: uuid.UUID
    bin_ids: list[uuid.UUID]
    texts: dict[Language, str]
    channels: list[Channel]
    expires_at: datetime | None
    issued_at: datetime
