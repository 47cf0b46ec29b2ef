import typing
import uuid
from typing import Annotated

import pydantic
import pytest
from pydantic import BaseModel, Field, TypeAdapter

from shared.events import (
    ALL_EVENTS,
    AlertIssued,
    AlertIssuedData,
    BinRegistered,
    Envelope,
    MemberRegistered,
    Visibility,
)
from shared.redaction import PERSONAL_FIELDS

RegistryEvent = Annotated[BinRegistered | MemberRegistered, Field(discriminator="type")]


def alert() -> AlertIssued:
    return AlertIssued.create(
        source="intake",
        data=AlertIssuedData(alert_id=uuid.uuid4(), bin_ids=[uuid.uuid4()], texts={"nl": "Let op"}),
        correlation_id="corr-1",
    )


def test_envelope_carries_cloudevents_attributes() -> None:
    body = alert().model_dump(mode="json")
    assert {"specversion", "id", "type", "source", "time", "correlationid", "data"} <= set(body)
    assert body["type"] == "alert.issued.v1"
    assert body["correlationid"] == "corr-1"
    assert body["time"].endswith("Z")


def test_round_trip_through_json() -> None:
    event = alert()
    assert AlertIssued.model_validate_json(event.to_json()) == event


def test_a_later_version_of_a_type_is_refused_by_a_v1_consumer() -> None:
    body = alert().model_dump(mode="json") | {"type": "alert.issued.v2"}
    with pytest.raises(pydantic.ValidationError, match=r"alert\.issued\.v1"):
        AlertIssued.model_validate(body)


def test_unknown_type_is_refused_by_a_union_consumer() -> None:
    body = alert().model_dump(mode="json")
    with pytest.raises(pydantic.ValidationError, match="does not match any of the expected tags"):
        TypeAdapter(RegistryEvent).validate_python(body)


def test_unknown_fields_are_refused() -> None:
    body = alert().model_dump(mode="json")
    body["data"]["phone"] = "+32470123456"
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        AlertIssued.model_validate(body)


def test_every_event_type_is_unique_and_versioned() -> None:
    types = [event.event_type() for event in ALL_EVENTS]
    assert len(types) == len(set(types))
    assert all(t.rsplit(".", 1)[-1].startswith("v") for t in types)


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    names |= _field_names(inner)
    return names


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type())
def test_public_events_carry_no_personal_data(event: type[Envelope[typing.Any]]) -> None:
    data_model = event.model_fields["data"].annotation
    assert isinstance(data_model, type)
    personal = _field_names(data_model) & (PERSONAL_FIELDS | {"contact", "phones", "address"})
    if event.visibility is Visibility.PUBLIC:
        assert not personal, f"{event.event_type()} is public but carries {personal}"


def test_member_contact_travels_only_privately() -> None:
    assert MemberRegistered.visibility is Visibility.PRIVATE
