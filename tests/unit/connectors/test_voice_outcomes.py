"""Voice outcomes, the numbers of a voice address, the spoken parts and baresip's netstrings:
pure, no IO."""

from __future__ import annotations

import json

import pytest

from services.connectors.adapters.baresip_ctrl import ControlError, netstring, split_netstrings
from services.connectors.adapters.voice import SipTrunkConfig, account_line, call_uri
from services.connectors.domain.voice_outcomes import (
    PROMPTS,
    CallResult,
    classify_close,
    is_valid_number,
    member_outcome,
    numbers,
    reason_text,
    spoken_parts,
)
from services.connectors.ports import SubmitStatus
from services.connectors.settings import ConnectorSettings

pytestmark = pytest.mark.unit


def closed(reason: str | None, **seen: bool) -> CallResult:
    flags = {"answered": False, "confirmed": False, "ringing": False, "cancelled": False}
    return classify_close(reason, **{**flags, **seen})


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("486 Busy Here", CallResult.BUSY),
        ("600 Busy Everywhere", CallResult.BUSY),
        ("404 Not Found", CallResult.INVALID),
        ("484 Address Incomplete", CallResult.INVALID),
        ("604 Does Not Exist Anywhere", CallResult.INVALID),
        ("480 Temporarily Unavailable", CallResult.NO_ANSWER),
        ("408 Request Timeout", CallResult.NO_ANSWER),
        ("503 Service Unavailable", CallResult.UNREACHABLE),
        ("500 Server Internal Error", CallResult.FAILED),
        ("603 Decline", CallResult.FAILED),
        ("Connection refused", CallResult.UNREACHABLE),
        ("Local timeout", CallResult.UNREACHABLE),
        (None, CallResult.UNREACHABLE),
    ],
)
def test_an_unanswered_call_by_its_close_reason(reason: str | None, expected: CallResult) -> None:
    assert closed(reason) is expected


def test_answered_confirmed_and_cancelled_calls() -> None:
    assert closed("end of file", answered=True) is CallResult.ANSWERED
    assert closed(None, answered=True, confirmed=True) is CallResult.CONFIRMED
    # Cancelled at the ring time: no answer if it rang, unreachable if it never did.
    assert closed("Connection reset by user", cancelled=True, ringing=True) is (
        CallResult.NO_ANSWER
    )
    assert closed("Connection reset by user", cancelled=True) is CallResult.UNREACHABLE


def test_the_member_outcome_from_the_calls_made() -> None:
    confirmed = member_outcome([(CallResult.BUSY, "486"), (CallResult.CONFIRMED, "")])
    assert (confirmed.status, confirmed.confirmed) == (SubmitStatus.DELIVERED, True)
    assert confirmed.detail == "number 1 of 2: busy (486); number 2 of 2: confirmed"
    answered = member_outcome([(CallResult.ANSWERED, "")])
    assert (answered.status, answered.confirmed) == (SubmitStatus.DELIVERED, False)
    tried = member_outcome([(CallResult.NO_ANSWER, ""), (CallResult.BUSY, "486")])
    assert (tried.status, tried.confirmed) == (SubmitStatus.TEMPORARY_FAILURE, None)
    # One good number that did not answer is worth retrying; only all invalid is permanent.
    mixed = member_outcome([(CallResult.INVALID, "404"), (CallResult.UNREACHABLE, "")])
    assert mixed.status is SubmitStatus.TEMPORARY_FAILURE
    invalid = member_outcome([(CallResult.INVALID, "404"), (CallResult.INVALID, "484")])
    assert invalid.status is SubmitStatus.PERMANENT_FAILURE
    assert member_outcome([]).status is SubmitStatus.PERMANENT_FAILURE


def test_numbers_in_order_and_only_e164_dialled() -> None:
    assert numbers("+32470111222, +3250123456,") == ["+32470111222", "+3250123456"]
    assert is_valid_number("+32470111222")
    assert not is_valid_number("0470 11 12 22")
    assert not is_valid_number("+0470111222")


def test_a_receipt_detail_holds_the_sip_code_not_the_far_ends_phrase() -> None:
    assert reason_text("486 Busy Here (Bob's phone)") == "486"
    assert reason_text("Connection refused") == "no SIP answer"


def test_the_message_is_said_twice_then_the_prompt_in_the_members_language() -> None:
    assert spoken_parts("Inbraak.", "nl") == ["Inbraak.", "Inbraak.", PROMPTS["nl"]]
    assert spoken_parts("Cambriolage.", "fr")[2] == PROMPTS["fr"]
    assert "1" in PROMPTS["de"]


def test_netstrings_split_whole_messages_and_keep_a_partial_one() -> None:
    one = netstring(json.dumps({"event": True, "type": "CALL_RINGING"}).encode())
    two = netstring(b'{"response":true}')
    buffer = bytearray(one + two[:5])
    assert [json.loads(m)["type"] for m in split_netstrings(buffer)] == ["CALL_RINGING"]
    assert bytes(buffer) == two[:5]
    buffer += two[5:]
    assert split_netstrings(buffer) == [b'{"response":true}']
    assert buffer == bytearray()
    with pytest.raises(ControlError):
        split_netstrings(bytearray(b"3:abc;"))


def test_routes_and_the_account_line() -> None:
    config = SipTrunkConfig(
        name="trunk", domain="sip.trunk.example", caller_id="+3250123456",
        username="bin", password="s3cret", register_seconds=600,
        number_routes={"+3250": "pbx.zone.example", "+325012": "10.0.0.9:5080"},
    )  # fmt: skip
    assert call_uri(config, "+32470111222") == "sip:+32470111222@sip.trunk.example"
    assert call_uri(config, "+3250999999") == "sip:+3250999999@pbx.zone.example"
    assert call_uri(config, "+3250123999") == "sip:+3250123999@10.0.0.9:5080"
    line = account_line(config, "127.0.0.1")
    assert line.startswith('"BIN" <sip:+3250123456@sip.trunk.example>;regint=600')
    assert "auth_user=bin" in line and "auth_pass=s3cret" in line
    assert "s3cret" not in repr(config)


def test_a_sip_trunk_in_the_providers_json_and_its_defaults() -> None:
    settings = ConnectorSettings(
        connector_providers=[
            {"name": "trunk", "kind": "sip", "domain": "sip.trunk.example",
             "caller_id": "+3216123456", "channels": 30, "password": "s3cret"}
        ]
    )  # fmt: skip
    [trunk] = settings.connector_providers
    assert isinstance(trunk, SipTrunkConfig) and trunk.channel == "voice"
    # As many calls handed over at once as there are agents: one call per ledger mark.
    assert (trunk.agents, trunk.concurrency) == (None, 30)
    fewer = SipTrunkConfig(name="t", domain="d", caller_id="+32", channels=30, agents=10)
    assert fewer.concurrency == 10
    with pytest.raises(ValueError, match="password"):
        SipTrunkConfig(name="t", domain="d", caller_id="+32", password="a",
                       password_file="/run/secrets/x")  # fmt: skip
