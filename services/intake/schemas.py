"""Intake's HTTP request and response bodies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field, model_validator

from services.intake.domain import privacy
from services.intake.domain.four_eyes import Reason as ApprovalReason
from services.intake.domain.news import NewsCategory
from services.intake.domain.targets import Reason
from shared.events import Channel, Language

AlertText = Annotated[str, Field(min_length=1, max_length=1600)]
Subject = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=4000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrivacyDecision(Strict):
    """The operator's answer to an uncertain finding of the privacy guard."""

    text: str = Field(min_length=1, max_length=200, description="The finding as written")
    action: privacy.Action = Field(description="mask: replace it; keep: send it as written")
    language: Language | None = Field(
        default=None, description="The text it is in; null: wherever it occurs"
    )

    def decision(self) -> privacy.Decision:
        return privacy.Decision(self.text, self.action, self.language)


PrivacyDecisions = Annotated[
    list[PrivacyDecision],
    Field(
        default_factory=list,
        max_length=100,
        description="Answers to the guard's uncertain findings (a refusal names them); "
        "certain findings are masked whatever is answered",
    ),
]


class PrivacyDecided(Strict):
    privacy_decisions: PrivacyDecisions

    def decisions(self) -> list[privacy.Decision]:
        return [d.decision() for d in self.privacy_decisions]


# --- reports --------------------------------------------------------------------------------------


class ReportSource(StrEnum):
    CALL_101 = "call_101"
    CALL_112 = "call_112"
    COORDINATOR = "coordinator"
    APP = "app"
    EMAIL = "email"
    OTHER = "other"


class ReportCategory(StrEnum):
    SUSPICIOUS_PERSON = "suspicious_person"
    SUSPICIOUS_VEHICLE = "suspicious_vehicle"
    BURGLARY = "burglary"
    ATTEMPTED_BURGLARY = "attempted_burglary"
    SHOPLIFTING = "shoplifting"
    THEFT = "theft"
    VANDALISM = "vandalism"
    SCAM = "scam"
    TRAFFIC_ACCIDENT = "traffic_accident"
    OTHER = "other"


class Place(Strict):
    municipality: Name
    street: Name
    house_number: str | None = Field(default=None, max_length=20)


class ReportCreate(Strict):
    police_zone: Name
    source: ReportSource
    category: ReportCategory
    facts: LongText
    place: Place
    occurred_at: AwareDatetime
    suspects: str | None = Field(default=None, max_length=2000, description="Description")
    vehicles: str | None = Field(default=None, max_length=2000, description="Description")


class Decision(StrEnum):
    ACTIVATE = "activate"
    NOTICE = "notice"
    POLICE_NEWS = "police_news"
    NO_ACTION = "no_action"


class Evaluation(BaseModel):
    decision: Decision
    reason: str
    bin_ids: list[uuid.UUID]
    outcome_id: uuid.UUID | None = Field(description="The alert, notice or news item it made")
    decided_by: str
    decided_at: datetime


class Report(BaseModel):
    report_id: uuid.UUID
    police_zone: str
    source: ReportSource
    category: ReportCategory
    facts: str
    place: Place
    occurred_at: datetime
    suspects: str | None
    vehicles: str | None
    logged_by: str
    logged_at: datetime
    status: str
    evaluation: Evaluation | None


class ProposedTarget(BaseModel):
    bin_id: uuid.UUID
    bin_name: str | None
    reason: Reason
    active: bool
    selected: bool
    urgent_channels: list[Channel]


class Attachment(Strict):
    filename: Name
    content_type: str = Field(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=100)
    url: str = Field(min_length=1, max_length=2000, description="Where the file is kept")
    shows_people: bool | None = Field(
        default=None, description="Required for pictures: whether people are recognisable"
    )


class AlertContent(PrivacyDecided):
    texts: dict[Language, AlertText] = Field(min_length=1, description="Alert text per language")
    channels: list[Channel] = Field(
        default_factory=list, max_length=4, description="Empty: each BIN's communication plan"
    )
    expires_at: AwareDatetime | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=5)


class NewsContent(PrivacyDecided):
    category: NewsCategory
    published_info: AlertText = Field(description="The only text the digest will carry")
    publishable: bool


class NoticeContent(PrivacyDecided):
    subjects: dict[Language, Subject] = Field(min_length=1)
    texts: dict[Language, LongText] = Field(min_length=1)
    channels: list[Channel] = Field(default_factory=list, max_length=4)


class EvaluationCreate(Strict):
    decision: Decision
    reason: str = Field(min_length=1, max_length=1000)
    bin_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=500, description="The ticked BINs (activate, notice)"
    )
    alert: AlertContent | None = None
    notice: NoticeContent | None = None
    news: NewsContent | None = None

    @model_validator(mode="after")
    def _content_fits_decision(self) -> EvaluationCreate:
        needs = {
            Decision.ACTIVATE: "alert",
            Decision.NOTICE: "notice",
            Decision.POLICE_NEWS: "news",
        }.get(self.decision)
        if needs and getattr(self, needs) is None:
            raise ValueError(f"a decision to {self.decision} needs its {needs}")
        if self.decision in (Decision.ACTIVATE, Decision.NOTICE) and not self.bin_ids:
            raise ValueError(f"a decision to {self.decision} needs bin_ids")
        return self


# --- alerts ---------------------------------------------------------------------------------------


class AlertRequest(AlertContent):
    bin_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class PrivacyChange(BaseModel):
    language: Language
    kind: str
    original: str
    replacement: str
    decided_by: str = Field(
        default="guard", description="guard: a certain finding; operator: masked on request"
    )

    @classmethod
    def listed(cls, changes: Iterable[object]) -> list[PrivacyChange]:
        """The privacy guard's changes, as the operator is shown them."""
        return [cls.model_validate(c, from_attributes=True) for c in changes]


class AlertAccepted(BaseModel):
    alert_id: uuid.UUID
    status_url: str
    progress_url: str
    cap_url: str
    privacy_changes: list[PrivacyChange] = Field(
        description="What the privacy guard changed in the texts before sending"
    )
    awaiting_approval: bool = Field(
        default=False,
        description="Held until a second operator of the zone approves it (four eyes); "
        "nothing is sent before",
    )
    approval_reasons: list[ApprovalReason] = Field(default_factory=list)
    reach: int | None = Field(
        default=None, description="Distinct members dispatch counted for the BINs"
    )


class Alert(BaseModel):
    alert_id: uuid.UUID
    bin_ids: list[uuid.UUID]
    texts: dict[Language, str]
    channels: list[Channel]
    expires_at: datetime | None
    issued_at: datetime
    police_zone: str | None
    issued_by: str | None
    report_id: uuid.UUID | None
    follows_alert_id: uuid.UUID | None
    privacy_changes: list[PrivacyChange]
    attachments: list[Attachment]
    cancelled_at: datetime | None
    cancelled_reason: str | None
    feedback_due: date | None = Field(description="Feedback to the BINs expected by this day")
    feedback_notice_id: uuid.UUID | None
    feedback_at: datetime | None
    follow_up_ids: list[uuid.UUID] = Field(default_factory=list)
    # Four-eyes approval: reasons empty when none was needed.
    approval_reasons: list[ApprovalReason] = Field(default_factory=list)
    reach: int | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def awaiting_approval(self) -> bool:
        return bool(self.approval_reasons) and self.approved_at is None


class Cancellation(Strict):
    reason: str = Field(min_length=1, max_length=200)


class FollowUp(PrivacyDecided):
    texts: dict[Language, AlertText] = Field(min_length=1)
    channels: list[Channel] = Field(default_factory=list, max_length=4)


class Feedback(PrivacyDecided):
    """The case result for the BIN's members and coordinator, by e-mail/push."""

    subjects: dict[Language, Subject] = Field(min_length=1)
    texts: dict[Language, LongText] = Field(min_length=1)


class PrivacyPreview(PrivacyDecided):
    texts: dict[Language, LongText] = Field(min_length=1)


class PrivacyFinding(BaseModel):
    """An uncertain finding still waiting for the operator's mask or keep."""

    language: Language
    kind: str
    text: str
    start: int = Field(description="Offset of the finding in its text (characters)")
    end: int
    detail: str = Field(description="The format it fits")

    @classmethod
    def listed(cls, findings: Iterable[object]) -> list[PrivacyFinding]:
        return [cls.model_validate(f, from_attributes=True) for f in findings]


class PrivacyPreviewResult(BaseModel):
    texts: dict[Language, str]
    changes: list[PrivacyChange]
    unresolved: list[PrivacyFinding] = Field(
        description="Uncertain findings without a decision: sending is refused until each has one"
    )


# --- notices, news --------------------------------------------------------------------------------


class NoticeScope(StrEnum):
    BINS = "bins"
    ZONE = "zone"
    MUNICIPALITY = "municipality"


class NoticeRequest(NoticeContent):
    scope: NoticeScope
    police_zone: Name
    bin_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)
    municipality: Name | None = None

    @model_validator(mode="after")
    def _scope_complete(self) -> NoticeRequest:
        if self.scope is NoticeScope.BINS and not self.bin_ids:
            raise ValueError("a notice to chosen BINs needs bin_ids")
        if self.scope is NoticeScope.MUNICIPALITY and not self.municipality:
            raise ValueError("a municipality-wide notice needs municipality")
        return self


class NoticeAccepted(BaseModel):
    notice_id: uuid.UUID
    bin_ids: list[uuid.UUID]
    privacy_changes: list[PrivacyChange]


class NewsRequest(NewsContent):
    police_zone: Name
    place: Name
    occurred_at: AwareDatetime


class News(BaseModel):
    news_id: uuid.UUID
    police_zone: str
    category: NewsCategory
    place: str
    occurred_at: datetime
    published_info: str
    publishable: bool
    report_id: uuid.UUID | None
    recorded_by: str
    recorded_at: datetime


# --- responses, audit -----------------------------------------------------------------------------


class ResponseCreate(Strict):
    member_id: uuid.UUID
    bin_id: uuid.UUID | None = None
    text: AlertText


class Response(BaseModel):
    response_id: uuid.UUID
    alert_id: uuid.UUID
    member_id: uuid.UUID
    bin_id: uuid.UUID | None
    channel: str
    text: str
    received_at: datetime


class AuditEntry(BaseModel):
    position: int
    at: datetime
    actor: str
    action: str
    police_zone: str | None
    subject_kind: str
    subject_id: uuid.UUID | None
    detail: dict[str, Any]


class OpenFeedback(BaseModel):
    alert_id: uuid.UUID
    police_zone: str | None
    issued_at: datetime
    issued_by: str | None
    bin_ids: list[uuid.UUID]
    feedback_due: date
    overdue: bool
