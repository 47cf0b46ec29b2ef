"""The registry's HTTP request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.registry.domain.contact import normalise_phone
from shared.events import BinKind, CommunicationPlan, Language


class BinCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: BinKind
    municipality: str = Field(min_length=1, max_length=200)
    police_zone: str = Field(min_length=1, max_length=200)
    communication_plan: CommunicationPlan


class Bin(BinCreate):
    bin_id: uuid.UUID
    created_at: datetime


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(min_length=1, max_length=200)
    phones: list[str] = Field(default_factory=list, max_length=3)
    email: EmailStr | None = None
    language: Language
    subsidised_sms: bool = True

    @field_validator("phones")
    @classmethod
    def _normalise_phones(cls, phones: list[str]) -> list[str]:
        return [normalise_phone(p) for p in phones]


class MemberCreated(BaseModel):
    member_id: uuid.UUID
    bin_id: uuid.UUID


class MemberExport(BaseModel):
    """Everything the registry holds on a member: the GDPR data export."""

    member_id: uuid.UUID
    bin_id: uuid.UUID
    full_name: str
    phones: list[str]
    email: str | None
    language: Language
    subsidised_sms: bool
    joined_at: datetime
