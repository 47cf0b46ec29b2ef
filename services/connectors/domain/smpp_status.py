"""SMPP 3.4 answers as our outcomes: ``submit_sm_resp`` command statuses and delivery
receipts (the ``deliver_sm`` an SMSC sends when ``registered_delivery`` asked for one).

Pure functions. Receipt text follows the SMPP 3.4 specification's Appendix B
(``id:... sub:... dlvrd:... submit date:... done date:... stat:DELIVRD err:...``); the
``receipted_message_id`` and ``message_state`` optional parameters win where present.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from services.connectors.ports import SubmitStatus
from shared.events import DeliveryOutcome

ESME_ROK = 0x00
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
# Wrong for this destination: retrying or another SMSC will not help.
_PERMANENT = {
    0x0B: "ESME_RINVDSTADR",
    0x33: "ESME_RINVNUMDESTS",
    0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI",
    0x01: "ESME_RINVMSGLEN",
    0x0A: "ESME_RINVSRCADR",  # the BIN's sender id refused for this number
}

TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
ESM_CLASS_DELIVERY_RECEIPT = 0x04


class SubmitAnswer(enum.Enum):
    ACCEPTED = "accepted"
    SLOW_DOWN = "slow_down"  # throttled or queue full: wait and submit the same part again
    PERMANENT = "permanent"
    TEMPORARY = "temporary"


def submit_answer(command_status: int) -> tuple[SubmitAnswer, str | None]:
    if command_status == ESME_ROK:
        return SubmitAnswer.ACCEPTED, None
    if command_status in (ESME_RTHROTTLED, ESME_RMSGQFUL):
        name = "ESME_RTHROTTLED" if command_status == ESME_RTHROTTLED else "ESME_RMSGQFUL"
        return SubmitAnswer.SLOW_DOWN, name
    if command_status in _PERMANENT:
        return SubmitAnswer.PERMANENT, _PERMANENT[command_status]
    return SubmitAnswer.TEMPORARY, f"command_status 0x{command_status:08X}"


def submit_status(answer: SubmitAnswer) -> SubmitStatus:
    return {
        SubmitAnswer.ACCEPTED: SubmitStatus.ACCEPTED,
        SubmitAnswer.PERMANENT: SubmitStatus.PERMANENT_FAILURE,
    }.get(answer, SubmitStatus.TEMPORARY_FAILURE)


# message_state values (SMPP 3.4, 5.2.28) and the receipt texts' stat: abbreviations.
_STATES = {
    1: None,  # ENROUTE
    2: DeliveryOutcome.DELIVERED,
    3: DeliveryOutcome.PERMANENT_FAILURE,  # EXPIRED: the phone stayed unreachable
    4: DeliveryOutcome.PERMANENT_FAILURE,  # DELETED
    5: DeliveryOutcome.PERMANENT_FAILURE,  # UNDELIVERABLE
    6: None,  # ACCEPTED (by the SMSC, not yet the phone)
    7: None,  # UNKNOWN
    8: DeliveryOutcome.PERMANENT_FAILURE,  # REJECTED
}
_STATS = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
_RECEIPT = re.compile(rb"id:(?P<id>\S+).*?stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.S)


@dataclass(frozen=True, slots=True)
class Receipt:
    message_id: str
    outcome: DeliveryOutcome | None  # None: an intermediate state
    detail: str


def is_receipt(esm_class: int) -> bool:
    return bool(esm_class & ESM_CLASS_DELIVERY_RECEIPT)


def parse_receipt(short_message: bytes, tlvs: dict[int, bytes]) -> Receipt | None:
    """The receipt in a ``deliver_sm``, or None when it names no message."""
    match = _RECEIPT.search(short_message)
    message_id = _c_string(tlvs.get(TLV_RECEIPTED_MESSAGE_ID))
    if message_id is None and match is not None:
        message_id = match["id"].decode("ascii", errors="replace")
    if not message_id:
        return None
    state_value = tlvs.get(TLV_MESSAGE_STATE)
    state = state_value[0] if state_value else None
    stat = match["stat"].decode("ascii", errors="replace").upper() if match else None
    if state is None and stat is not None:
        state = _STATS.get(stat)
    err = match["err"].decode("ascii", errors="replace") if match and match["err"] else None
    name = stat or (f"state {state}" if state is not None else "no state")
    detail = f"{name} err:{err}" if err else name
    return Receipt(message_id, _STATES.get(state) if state is not None else None, detail)


def _c_string(value: bytes | None) -> str | None:
    if not value:
        return None
    return value.split(b"\x00", 1)[0].decode("ascii", errors="replace") or None
