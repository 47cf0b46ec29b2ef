"""The registry's HTTP request and response bodies."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.registry.domain.contact import normalise_email, normalise_phone
from services.registry.domain.lifecycle import Signatory
from services.registry.domain.sanctions import SanctionKind
from shared.areas import Parity
from shared.auth import Role
from shared.events import BinKind, BinStatus, Channel, CommunicationPlan, Language

Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[
    str,
    Field(max_length=320),
    AfterValidator(normalise_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]


class StreetSegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Name
    from_number: int | None = Field(default=None, ge=0, le=100_000)
    to_number: int | None = Field(default=None, ge=0, le=100_000)
    parity: Parity = Parity.ALL

    @model_validator(mode="after")
    def _range_in_order(self) -> StreetSegmentIn:
        if (
            self.from_number is not None
            and self.to_number is not None
            and self.from_number > self.to_number
        ):
            raise ValueError("from_number is above to_number")
        return self


class BinCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: BinKind
    municipality: Name
    police_zone: Name
    communication_plan: CommunicationPlan
    # The municipality pays SMS for one member per housing unit only.
    one_sms_per_housing_unit: bool = False
    streets: list[StreetSegmentIn] = Field(default_factory=list, max_length=5000)


class AreaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    streets: list[StreetSegmentIn] = Field(max_length=5000)
    neighbour_ids: list[uuid.UUID] = Field(default_factory=list, max_length=200)


class Signature(BaseModel):
    signatory: Signatory
    signed_by: str
    signed_at: datetime


class Bin(BaseModel):
    bin_id: uuid.UUID
    name: str
    kind: BinKind
    municipality: str
    police_zone: str
    communication_plan: CommunicationPlan
    one_sms_per_housing_unit: bool
    status: BinStatus
    status_changed_at: datetime
    streets: list[StreetSegmentIn]
    neighbour_ids: list[uuid.UUID]
    signatures: list[Signature]
    missing_signatures: list[str] = Field(description="Parties whose signature is lacking")
    fod_reference: str | None
    last_evaluated_on: date | None
    next_evaluation_due: date | None
    created_at: datetime


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: BinStatus
    note: str | None = Field(default=None, max_length=1000)
    # The FOD's reference, when the charter is submitted or approved.
    fod_reference: str | None = Field(default=None, max_length=200)


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signatory: Signatory


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: date


class CoveringBin(BaseModel):
    bin_id: uuid.UUID
    name: str
    kind: BinKind
    status: BinStatus
    neighbour_ids: list[uuid.UUID]


class Relation(StrEnum):
    LIVES = "lives"
    WORKS = "works"


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Name
    house_number: str = Field(min_length=1, max_length=20)
    box: str = Field(default="", max_length=20)
    postal_code: str = Field(default="", pattern=r"^(\d{4})?$")
    municipality: Name


def _normalise_phones(phones: list[str]) -> list[str]:
    return [normalise_phone(p) for p in phones]


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Name
    birth_date: date
    address: AddressIn
    relation: Relation = Relation.LIVES
    phones: list[str] = Field(default_factory=list, max_length=3)
    email: Email | None = None
    language: Language
    channels: list[Channel] = Field(
        default_factory=list,
        max_length=4,
        description="Channels the member accepts for news; empty: the BIN's plan",
    )
    subsidised_sms: bool = Field(
        default=True, description="Asked for; the BIN's one-per-housing-unit rule may refuse it"
    )
    quiet_from: time | None = Field(default=None, description="Quiet hours (Brussels), start")
    quiet_until: time | None = Field(default=None, description="Quiet hours, end")
    paused_until: AwareDatetime | None = Field(default=None, description="Vacation pause")
    registration_signed_on: date
    house_rules_version: str = Field(min_length=1, max_length=50)
    house_rules_accepted_on: date

    _phones = field_validator("phones")(_normalise_phones)

    @model_validator(mode="after")
    def _reachable(self) -> MemberCreate:
        if not self.phones and self.email is None:
            raise ValueError("a member needs a phone number or an e-mail address")
        return self


class MemberUpdate(BaseModel):
    """What a member or their coordinator may change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name | None = None
    address: AddressIn | None = None
    relation: Relation | None = None
    phones: list[str] | None = Field(default=None, max_length=3)
    email: Email | None = None
    language: Language | None = None
    channels: list[Channel] | None = Field(default=None, max_length=4)
    quiet_from: time | None = None
    quiet_until: time | None = None
    paused_until: AwareDatetime | None = None
    digest_subscribed: bool | None = Field(default=None, description="Gets the daily digest")

    @field_validator("phones")
    @classmethod
    def _phones(cls, phones: list[str] | None) -> list[str] | None:
        return None if phones is None else _normalise_phones(phones)


class MemberCreated(BaseModel):
    member_id: uuid.UUID
    bin_id: uuid.UUID
    subsidised_sms: bool
    notices: list[str] = Field(default_factory=list)


class MemberExport(BaseModel):
    """Everything the registry holds on a member: the GDPR data export."""

    member_id: uuid.UUID
    bin_id: uuid.UUID
    full_name: str
    birth_date: date | None
    relation: Relation | None
    address: AddressIn | None
    phones: list[str]
    email: str | None
    language: Language
    channels: list[Channel]
    subsidised_sms: bool
    registration_signed_on: date | None
    house_rules_version: str | None
    house_rules_accepted_on: date | None
    standing: str = "member"
    suspended_until: datetime | None = None
    sms_opted_out: bool = Field(default=False, description="Replied STOP to an SMS")
    quiet_from: time | None = None
    quiet_until: time | None = None
    paused_until: datetime | None = None
    digest_subscribed: bool = Field(default=True, description="Gets the daily digest")
    push_subscription: dict[str, Any] | None = Field(
        default=None, description="The Web Push subscription of the member's device"
    )
    joined_at: datetime
    updated_at: datetime


class CharterPartner(BaseModel):
    """A partner of the charter and how to reach them (personal data: never on an event)."""

    model_config = ConfigDict(extra="forbid")

    party: str = Field(pattern="^(citizens|police_zone|municipality)$")
    role: Name = Field(description="coordinator, mandated officer, mayor, ...")
    full_name: Name
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=30)


class BudgetLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: Name
    amount_eur: float = Field(ge=0, le=1_000_000)
    paid_by: str = Field(pattern="^(municipality|police_zone|citizens|other)$")


class CharterUpdate(BaseModel):
    """The sections to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    partners: list[CharterPartner] | None = Field(default=None, max_length=50)
    budget_plan: list[BudgetLine] | None = Field(default=None, max_length=100)
    communication_plan: CommunicationPlan | None = None


class CharterChange(BaseModel):
    change_id: uuid.UUID
    section: str
    before: Any
    after: Any
    changed_by: str
    changed_at: datetime
    to_report: bool = Field(description="To report to the FOD Binnenlandse Zaken")
    reported_at: datetime | None
    fod_reference: str | None


class Charter(BaseModel):
    bin_id: uuid.UUID
    partners: list[CharterPartner]
    budget_plan: list[BudgetLine]
    communication_plan: CommunicationPlan
    changes: list[CharterChange]


class ChangesReported(BaseModel):
    model_config = ConfigDict(extra="forbid")

    change_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    fod_reference: str = Field(min_length=1, max_length=200)


class SanctionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SanctionKind
    reason: str = Field(min_length=1, max_length=2000)
    until: AwareDatetime | None = Field(default=None, description="End of a suspension")


class Sanction(BaseModel):
    sanction_id: uuid.UUID
    member_id: uuid.UUID
    kind: SanctionKind
    reason: str
    until: datetime | None
    decided_by: str
    decided_at: datetime
    appeal_deadline: datetime | None = Field(description="Removals: three weeks to appeal")
    appealed_at: datetime | None
    appeal_reason: str | None


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class ImportReport(BaseModel):
    rows: int
    accepted: int
    rejected: list[RejectedRow]
    imported: bool = Field(description="False when a rejected row stopped the whole import")
    member_ids: list[uuid.UUID] = Field(default_factory=list)


class RejectedRow(BaseModel):
    row: int = Field(description="Line number in the CSV file, the header being line 1")
    reasons: list[str]


ImportReport.model_rebuild()


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200, description="The identity provider's id")
    role: Role
    police_zone: str = Field(default="", max_length=200)
    municipality: str = Field(default="", max_length=200)
    bin_id: uuid.UUID | None = None


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200, description="The identity provider's id")
    birth_date: date = Field(description="Checked (adult), not stored")
    screened_on: date
    passed: bool


class Screening(BaseModel):
    subject: str
    bin_id: uuid.UUID
    screened_on: date
    passed: bool
    screened_by: str
    recorded_at: datetime


class Claims(BaseModel):
    """What a token for ``subject`` should carry (for the identity provider's mapper)."""

    subject: str
    roles: list[Role]
    police_zones: list[str]
    municipalities: list[str]
    bin_ids: list[uuid.UUID]
