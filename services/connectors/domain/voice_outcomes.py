"""Voice, pure: what a call to one number came to, what a member's calls come to, the
numbers of a voice address, and the words of the message.

SIP cannot tell a person from a voicemail box: both answer with 200 OK. Only a key pressed
during the call (DTMF 1, RFC 4733) shows that somebody heard it. So:

- confirmed by DTMF: delivered, and reached a person (``confirmed`` True on the receipt);
- answered, not confirmed: delivered to the phone or its voicemail (``confirmed`` False);
- busy (486, 600), no answer within the ring time (we CANCEL), unreachable (no answer to
  the INVITE at all, 408, 480, 503) or failed otherwise (603 Decline among them: refused
  this time, not for good): the member's next number; when
  none is left, a temporary failure (dispatch's plan retries it later);
- an invalid number (404, 484, 604, 410, 485, 416, not E.164): the next number too, but
  when every number was invalid, a permanent failure (dispatch falls back to the next
  channel of the BIN's plan).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.connectors.ports import SubmitStatus

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Final SIP answers that say the number itself is wrong: retrying cannot help.
INVALID_CODES = frozenset({400, 404, 410, 416, 484, 485, 604})
BUSY_CODES = frozenset({486, 600})
NO_ANSWER_CODES = frozenset({408, 480, 487})

PROMPTS = {
    "nl": "Druk op 1 om te bevestigen dat u dit bericht gehoord hebt.",
    "fr": "Appuyez sur 1 pour confirmer que vous avez entendu ce message.",
    "de": "Drücken Sie die 1, um zu bestätigen, dass Sie diese Nachricht gehört haben.",
}
CONFIRM_KEY = "1"


class CallResult(enum.StrEnum):
    CONFIRMED = "confirmed"
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    UNREACHABLE = "unreachable"
    INVALID = "invalid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class MemberOutcome:
    status: SubmitStatus
    # True: a person pressed 1; False: answered, maybe by voicemail; None: not answered.
    confirmed: bool | None
    detail: str


def numbers(address: str) -> list[str]:
    """The member's numbers in their order: dispatch joins them with commas."""
    return [n.strip() for n in address.split(",") if n.strip()]


def is_valid_number(number: str) -> bool:
    return bool(E164.match(number))


def sip_code(reason: str | None) -> int | None:
    """The SIP status at the start of baresip's close reason (``"486 Busy Here"``)."""
    if reason and len(reason) >= 3 and reason[:3].isdigit() and reason[:1] in "3456":
        return int(reason[:3])
    return None


def classify_close(
    reason: str | None, *, answered: bool, confirmed: bool, ringing: bool, cancelled: bool
) -> CallResult:
    """One call's result from what the user agent saw. ``cancelled``: we hung up an
    unanswered call at the ring time (a CANCEL); ``ringing``: a 180/183 came first."""
    if confirmed:
        return CallResult.CONFIRMED
    if answered:
        return CallResult.ANSWERED
    if cancelled:
        return CallResult.NO_ANSWER if ringing else CallResult.UNREACHABLE
    code = sip_code(reason)
    if code is None:
        # No SIP answer at all: connection refused, a local timeout, DNS.
        return CallResult.UNREACHABLE
    if code in INVALID_CODES:
        return CallResult.INVALID
    if code in BUSY_CODES:
        return CallResult.BUSY
    if code in NO_ANSWER_CODES:
        return CallResult.NO_ANSWER
    if code == 503:
        return CallResult.UNREACHABLE
    return CallResult.FAILED


def reason_text(reason: str | None) -> str:
    """A close reason fit for a receipt: the SIP code only (a reason phrase is free text
    from the far end)."""
    code = sip_code(reason)
    return str(code) if code is not None else "no SIP answer"


def member_outcome(results: Sequence[tuple[CallResult, str]]) -> MemberOutcome:
    """The delivery's outcome from its calls, in the order made (``(result, short detail)``
    per number; calling stops at the first answered one)."""
    detail = "; ".join(
        f"number {i} of {len(results)}: {result.value}" + (f" ({why})" if why else "")
        for i, (result, why) in enumerate(results, start=1)
    )
    kinds = [result for result, _ in results]
    if CallResult.CONFIRMED in kinds:
        return MemberOutcome(SubmitStatus.DELIVERED, True, detail)
    if CallResult.ANSWERED in kinds:
        return MemberOutcome(SubmitStatus.DELIVERED, False, detail)
    if not kinds or all(kind is CallResult.INVALID for kind in kinds):
        return MemberOutcome(SubmitStatus.PERMANENT_FAILURE, None, detail or "no number")
    return MemberOutcome(SubmitStatus.TEMPORARY_FAILURE, None, detail)


def spoken_parts(text: str, language: str) -> list[str]:
    """What the call says, in order: the message twice, then the prompt to press 1."""
    prompt = PROMPTS.get(language, PROMPTS["nl"])
    return [text, text, prompt]
