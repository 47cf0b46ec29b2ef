"""SMPP answers and receipts as our outcomes."""

from __future__ import annotations

from services.connectors.domain.smpp_status import (
    TLV_MESSAGE_STATE,
    TLV_RECEIPTED_MESSAGE_ID,
    SubmitAnswer,
    is_receipt,
    parse_receipt,
    submit_answer,
)
from shared.events import DeliveryOutcome

RECEIPT = (
    b"id:0A1B2C sub:001 dlvrd:001 submit date:2612010830 done date:2612010831 "
    b"stat:%s err:000 text:Verdachte"
)


def test_submit_statuses() -> None:
    assert submit_answer(0) == (SubmitAnswer.ACCEPTED, None)
    assert submit_answer(0x58)[0] is SubmitAnswer.SLOW_DOWN
    assert submit_answer(0x14)[0] is SubmitAnswer.SLOW_DOWN
    assert submit_answer(0x0B) == (SubmitAnswer.PERMANENT, "ESME_RINVDSTADR")
    answer, detail = submit_answer(0x08)
    assert answer is SubmitAnswer.TEMPORARY and detail == "command_status 0x00000008"


def test_receipt_text_delivered_and_undeliverable() -> None:
    delivered = parse_receipt(RECEIPT % b"DELIVRD", {})
    assert delivered is not None
    assert delivered.message_id == "0A1B2C" and delivered.outcome is DeliveryOutcome.DELIVERED
    failed = parse_receipt(RECEIPT % b"UNDELIV", {})
    assert failed is not None and failed.outcome is DeliveryOutcome.PERMANENT_FAILURE
    assert failed.detail == "UNDELIV err:000"


def test_intermediate_states_are_not_final() -> None:
    for stat in (b"ACCEPTD", b"ENROUTE", b"UNKNOWN"):
        receipt = parse_receipt(RECEIPT % stat, {})
        assert receipt is not None and receipt.outcome is None


def test_optional_parameters_win_over_the_text() -> None:
    receipt = parse_receipt(
        RECEIPT % b"DELIVRD",
        {TLV_RECEIPTED_MESSAGE_ID: b"real-id\x00", TLV_MESSAGE_STATE: bytes([5])},
    )
    assert receipt is not None
    assert receipt.message_id == "real-id"
    assert receipt.outcome is DeliveryOutcome.PERMANENT_FAILURE


def test_a_receipt_without_an_id_is_none_and_receipts_are_told_by_esm_class() -> None:
    assert parse_receipt(b"garbage", {}) is None
    assert is_receipt(0x04) and not is_receipt(0x00) and not is_receipt(0x40)
