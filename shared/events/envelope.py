"""The event envelope: CloudEvents 1.0 attribute names, one pydantic model per event type.

Each concrete event fixes ``type`` to a ``Literal`` (``alert.issued.v1``), so a union of
events is a discriminated union: an unknown or misspelt type fails validation with a
clear reason instead of reaching a handler.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.events.visibility import Visibility

DataT = TypeVar("DataT", bound=BaseModel)


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventData(BaseModel):
    """Base of every event payload: unknown fields refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(BaseModel, Generic[DataT]):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Which exchange the event travels on; set by each concrete event class.
    visibility: ClassVar[Visibility] = Visibility.PUBLIC

    specversion: str = "1.0"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    source: str = Field(min_length=1, max_length=100)
    time: datetime = Field(default_factory=utc_now)
    datacontenttype: str = "application/json"
    correlationid: str = Field(default_factory=lambda: str(uuid.uuid4()), max_length=100)
    data: DataT

    @classmethod
    def event_type(cls) -> str:
        default: Any = cls.model_fields["type"].default
        if not isinstance(default, str):
            raise TypeError(f"{cls.__name__} does not fix its event type")
        return default

    @classmethod
    def create(cls, *, source: str, data: DataT, correlation_id: str | None = None) -> Self:
        fields: dict[str, Any] = {"source": source, "data": data}
        if correlation_id:
            fields["correlationid"] = correlation_id
        return cls(**fields)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
