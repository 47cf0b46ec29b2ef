import json

import pydantic
import pytest

from shared.events import AlertIssued
from shared.messaging.errors import MessageTooLarge, PermanentError
from shared.messaging.retry import DeadLetter, Retry, decide


def test_transient_failures_climb_the_delay_levels() -> None:
    error = ConnectionError("database away")
    assert decide(error, attempt=1, retry_levels=3) == Retry(level=0, attempt=2)
    assert decide(error, attempt=2, retry_levels=3) == Retry(level=1, attempt=3)
    assert decide(error, attempt=3, retry_levels=3) == Retry(level=2, attempt=4)


def test_after_the_last_level_the_message_is_dead_lettered() -> None:
    decision = decide(ConnectionError("database away"), attempt=4, retry_levels=3)
    assert isinstance(decision, DeadLetter)
    assert decision.reason.startswith("retries exhausted after 4 attempts")
    assert "ConnectionError: database away" in decision.reason


def test_bad_json_is_dead_lettered_at_once() -> None:
    try:
        json.loads(b"{not json")
    except ValueError as error:
        decision = decide(error, attempt=1, retry_levels=3)
    assert isinstance(decision, DeadLetter)
    assert decision.reason.startswith("MalformedMessage: JSONDecodeError")


def test_schema_violation_is_dead_lettered_at_once_with_the_field_named() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        AlertIssued.model_validate({"type": "alert.issued.v1"})
    decision = decide(caught.value, attempt=1, retry_levels=3)
    assert isinstance(decision, DeadLetter)
    assert "data" in decision.reason and "source" in decision.reason


@pytest.mark.parametrize("error", [PermanentError("no such BIN"), MessageTooLarge("9 MB")])
def test_permanent_errors_skip_retries(error: Exception) -> None:
    assert isinstance(decide(error, attempt=1, retry_levels=3), DeadLetter)


def test_reason_is_one_bounded_line() -> None:
    decision = decide(PermanentError("x\n" * 5000), attempt=1, retry_levels=3)
    assert isinstance(decision, DeadLetter)
    assert "\n" not in decision.reason and len(decision.reason) <= 1000
