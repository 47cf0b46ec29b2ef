import io
import json
import logging

import pytest
import structlog

from shared.logging import configure_logging, get_logger
from shared.redaction import REDACTED, redact, redact_text


@pytest.mark.parametrize(
    "phone",
    [
        "+32 470 12 34 56",
        "+32470123456",
        "0032 470 12 34 56",
        "0470/12.34.56",
        "0470 12 34 56",
        "02 123 45 67",
        "+49 30 1234567",
    ],
)
def test_phone_numbers_in_free_text_are_masked(phone: str) -> None:
    assert redact_text(f"call {phone} now") == f"call {REDACTED} now"


def test_email_addresses_in_free_text_are_masked() -> None:
    assert redact_text("mail an.peeters+bin@example.be please") == f"mail {REDACTED} please"


@pytest.mark.parametrize(
    "harmless",
    [
        "2026-11-23T03:10:00.123456Z",
        "2026-11-23",
        "delivered 100000 of 250000",
        "3f2a1b4c-1234-5678-9abc-def012345678",
        "alert 12345678 fanned out",
    ],
)
def test_dates_counts_and_ids_are_kept(harmless: str) -> None:
    assert redact_text(harmless) == harmless


def test_personal_fields_are_masked_whatever_their_value() -> None:
    value = {"member": {"full_name": "An Peeters", "language": "nl", "phones": ["x"]}}
    assert redact(value) == {
        "member": {"full_name": REDACTED, "language": "nl", "phones": REDACTED}
    }


def test_every_log_line_is_redacted_including_stdlib_loggers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging("probe", "INFO", "json")
    try:
        get_logger("probe").info("member registered", email="an@example.be", bins=2)
        logging.getLogger("third.party").warning("could not reach +32 470 12 34 56")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["email"] == REDACTED
    assert lines[0]["bins"] == 2
    assert lines[1]["event"] == f"could not reach {REDACTED}"
    # Timestamps may contain any digits; the number's distinctive run of digits may not.
    assert "12 34 56" not in stream.getvalue()
    assert "123456" not in stream.getvalue()
    assert "an@example.be" not in stream.getvalue()
