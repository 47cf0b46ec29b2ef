"""Kannel's answers, reports and callbacks as ours (services.connectors.domain.kannel_reports)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import pytest

from services.connectors.domain.kannel_reports import (
    MalformedCallback,
    ProviderDown,
    Submitted,
    dlr_outcome,
    dlr_url,
    mo_url,
    parse_dlr,
    parse_mo,
    read_sendsms_answer,
    report_detail,
)
from services.connectors.ports import SubmitStatus
from shared.events import DeliveryOutcome

DELIVERY = uuid.UUID("0b7e8a52-2f43-4a63-9d3c-6f1f3c1d2a10")
# A real SMPP receipt as Kannel passes it in %A: its text: field quotes the message.
RECEIPT = (
    "id:4711 sub:001 dlvrd:001 submit date:2612010830 done date:2612010831 "
    "stat:DELIVRD err:000 text:Brand in de Kerkstr"
)


@pytest.mark.parametrize(
    ("dlr_type", "reply", "outcome"),
    [
        (1, "", DeliveryOutcome.DELIVERED),
        (2, "id:1 stat:UNDELIV err:001", DeliveryOutcome.PERMANENT_FAILURE),
        (2, "id:1 stat:EXPIRED err:000", DeliveryOutcome.PERMANENT_FAILURE),
        (4, "", None),
        (8, "ACK/", None),
        (32, "", None),
        (16, "NACK/0x0000000b/Invalid Destination Address", DeliveryOutcome.PERMANENT_FAILURE),
        (16, "NACK/0x00000045/Submit failed", DeliveryOutcome.TEMPORARY_FAILURE),
        (16, "NACK/Retries Exceeded", DeliveryOutcome.TEMPORARY_FAILURE),
        (16, "NACK/", DeliveryOutcome.PERMANENT_FAILURE),
    ],
)
def test_dlr_types_map_to_outcomes(
    dlr_type: int, reply: str, outcome: DeliveryOutcome | None
) -> None:
    assert dlr_outcome(dlr_type, reply) == outcome


@pytest.mark.parametrize("dlr_type", [0, 3, 64])
def test_an_unknown_dlr_type_is_malformed(dlr_type: int) -> None:
    with pytest.raises(MalformedCallback):
        dlr_outcome(dlr_type)


def test_report_detail_keeps_the_status_words_not_the_quoted_text() -> None:
    detail = report_detail(1, RECEIPT)
    assert detail == "dlr 1 stat:DELIVRD err:000"
    assert "Kerkstr" not in detail


def test_report_detail_keeps_a_nack_reason_and_drops_other_text() -> None:
    assert report_detail(16, "NACK/0x0000000b/Invalid Destination Address") == (
        "dlr 16 NACK/0x0000000b/Invalid Destination Address"
    )
    assert report_detail(1, "Delivered to +32470123456 at noon") == "dlr 1"
    assert report_detail(8, "ACK/") == "dlr 8"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (202, "0: Accepted for delivery", Submitted(SubmitStatus.ACCEPTED)),
        (202, "3: Queued for later delivery", Submitted(SubmitStatus.ACCEPTED, "queued in kannel")),
        (202, "Sent.", Submitted(SubmitStatus.ACCEPTED)),
        (
            403,
            "Not routable. Do not try again.",
            Submitted(SubmitStatus.PERMANENT_FAILURE, "kannel: not routable"),
        ),
        (
            400,
            "Number(s) has/have been denied by white- and/or black-lists.",
            Submitted(
                SubmitStatus.PERMANENT_FAILURE,
                "kannel 400: Number(s) has/have been denied by white- and/or black-lists.",
            ),
        ),
    ],
)
def test_sendsms_answers_for_one_message(status: int, body: str, expected: Submitted) -> None:
    assert read_sendsms_answer(status, body) == expected


@pytest.mark.parametrize(
    ("status", "body", "reason_has"),
    [
        (403, "Authorization failed for sendsms", "username or password"),
        (503, "Temporal failure, try again later.", "503"),
        (500, "Sending failed.", "500"),
        (404, "Unknown request.", "404"),
        (400, "Sender missing and no global set, rejected", "sender"),
        (302, "", "302"),
    ],
)
def test_sendsms_answers_that_mean_kannel_is_down(status: int, body: str, reason_has: str) -> None:
    answer = read_sendsms_answer(status, body)
    assert isinstance(answer, ProviderDown)
    assert reason_has in answer.reason


def test_a_refusal_detail_never_carries_a_number() -> None:
    answer = read_sendsms_answer(400, "Empty receiver +32470123456 not allowed")
    assert isinstance(answer, Submitted)
    assert "470123456" not in (answer.detail or "")


def test_the_dlr_url_names_the_delivery_and_leaves_kannels_codes() -> None:
    url = dlr_url("http://connector:8006/", "kannel", DELIVERY)
    assert url == (
        f"http://connector:8006/kannel/kannel/dlr?delivery={DELIVERY}"
        "&type=%d&smsc-reply=%A&smsc-message-id=%F&time=%T"
    )


def test_a_callback_base_with_a_percent_is_refused() -> None:
    with pytest.raises(ValueError, match="%"):
        dlr_url("http://connector/%d", "kannel", DELIVERY)


def _filled(url: str, **codes: str) -> str:
    """The query of ``url`` once Kannel replaced its %-codes (url-encoded values)."""
    # In one pass, as Kannel does: a filled value may itself hold "%C3".
    return re.sub(r"%(\w)", lambda code: codes.get(code[1], code[0]), urlsplit(url).query)


def test_a_dlr_callback_becomes_a_report() -> None:
    query = _filled(
        dlr_url("http://c", "kannel", DELIVERY),
        d="1",
        A=quote(RECEIPT, safe=""),
        F="4711",
        T="1796113870",
    )
    report = parse_dlr(query)
    assert report.delivery_id == DELIVERY
    assert report.outcome is DeliveryOutcome.DELIVERED
    assert report.provider_message_id == "4711"
    assert report.detail == "dlr 1 stat:DELIVRD err:000"
    assert report.at == datetime.fromtimestamp(1796113870, UTC)


def test_an_intermediate_dlr_without_message_id_or_time() -> None:
    report = parse_dlr(_filled(dlr_url("http://c", "k", DELIVERY), d="8", A="ACK%2F", F="", T=""))
    assert report.outcome is None
    assert report.provider_message_id is None


@pytest.mark.parametrize(
    "query",
    ["type=1", "delivery=nope&type=1", f"delivery={DELIVERY}", f"delivery={DELIVERY}&type=x"],
)
def test_a_malformed_dlr_callback(query: str) -> None:
    with pytest.raises(MalformedCallback):
        parse_dlr(query)


def test_an_mo_callback_in_utf8_keeps_the_text_as_typed() -> None:
    query = _filled(
        mo_url("http://c", "kannel"),
        q="%2B32470123456",
        b=quote("Straße  café\nOK", safe="").replace("%20", "+"),
        C="UTF-8",
        T="1796113906",
    )
    reply = parse_mo(query)
    assert reply.sender == "+32470123456"
    assert reply.text == "Straße  café\nOK"
    assert reply.received_at == datetime.fromtimestamp(1796113906, UTC)


def test_an_mo_callback_in_ucs2() -> None:
    text = quote("é€ ok".encode("utf-16-be"), safe="")
    reply = parse_mo(_filled(mo_url("http://c", "k"), q="0032470123456", b=text, C="UTF-16BE"))
    assert reply.sender == "+32470123456"
    assert reply.text == "é€ ok"


@pytest.mark.parametrize(
    ("sender", "text", "charset"),
    [
        ("0470123456", "hi", "UTF-8"),  # national: the smsc's unified-prefix was not set
        ("BIN", "hi", "UTF-8"),
        ("%2B32470123456", "%00%01", "8-BIT"),
        ("%2B32470123456", "hi", "no-such-charset"),
        ("%2B32470123456", "%FF%FE%FD", "UTF-8"),
    ],
)
def test_a_malformed_mo_callback(sender: str, text: str, charset: str) -> None:
    with pytest.raises(MalformedCallback) as refused:
        parse_mo(f"sender={sender}&text={text}&charset={charset}&time=")
    assert "470123456" not in str(refused.value)
