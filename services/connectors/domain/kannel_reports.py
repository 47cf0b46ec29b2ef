"""Kannel's words as ours: sendsms answers, delivery report (DLR) types, and the two URLs
Kannel calls back (the per-message ``dlr-url`` and the ``sms-service`` ``get-url`` for MO).

Pure functions, no IO. Facts from Kannel 1.4.5 (its ``smsbox.c``, ``urltrans.c``,
``dlr.h``), checked against the Debian package:

- sendsms answers once bearerbox acknowledged the message: 202 ``0: Accepted for delivery``
  (routed to an SMSC queue) or 202 ``3: Queued for later delivery`` (no SMSC link up; kept
  in bearerbox's store), 403 ``Authorization failed for sendsms``, 403 ``Not routable. Do not
  try again.``, 503 ``Temporal failure, try again later.``, 400 for a malformed field.
- DLR types (``%d``): 1 delivered to the phone, 2 not delivered to the phone, 4 queued on the
  SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC (``NACK/<reason>``), 32 intermediate.
  A concatenated message can report once per part: the first final report counts.
- ``%A`` is the report's text: ``ACK/`` or ``NACK/0x0000000b/...`` for 8 and 16, the SMSC's
  receipt (``id:... stat:DELIVRD err:000 text:<the message's first characters>``) for 1 and
  2, so only its status words are kept. ``%F`` is the SMSC's message id, ``%T`` unix time.
- For MO, ``%q`` is the sender with a leading ``00`` made ``+``, ``%b`` the text's raw bytes
  (``%a`` would squeeze white space) and ``%C`` their charset: ``UTF-8`` for GSM texts,
  ``UTF-16BE`` for UCS-2 ones unless smsbox's ``mo-recode`` turned them into UTF-8.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from services.connectors.domain.smpp_status import SubmitAnswer, submit_answer
from services.connectors.ports import DeliveryReport, InboundReply, SubmitStatus
from shared.events import DeliveryOutcome

DLR_DELIVERED = 1
DLR_UNDELIVERED = 2
DLR_QUEUED = 4
DLR_SMSC_ACCEPTED = 8
DLR_SMSC_REJECTED = 16
DLR_INTERMEDIATE = 32
# Every report a message can have up to the phone; 32 is never asked for.
DLR_MASK_ALL = DLR_DELIVERED | DLR_UNDELIVERED | DLR_QUEUED | DLR_SMSC_ACCEPTED | DLR_SMSC_REJECTED

# The query parameters of our callbacks, named once for the builder and the parsers.
DELIVERY = "delivery"
TYPE = "type"
SMSC_REPLY = "smsc-reply"
SMSC_MESSAGE_ID = "smsc-message-id"
TIME = "time"
SENDER = "sender"
TEXT = "text"
CHARSET = "charset"

_DETAIL_MAX = 80
# Phone numbers and other long digit runs, never hex such as 0x0000000b.
_DIGITS = re.compile(r"(?<![0-9A-Za-z])\+?\d{6,}")
_RECEIPT_STAT = re.compile(r"stat:(?P<stat>\w+)(?:.*?err:(?P<err>\w+))?", re.S)
_NACK_CODE = re.compile(r"^NACK/0x(?P<code>[0-9A-Fa-f]{1,8})\b")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Kannel's own words for a message it gave up resending (sms-resend-retry exhausted).
_RETRIES_EXCEEDED = "Retries Exceeded"


class MalformedCallback(ValueError):
    """A callback we cannot read; the message says why, never with personal data."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """Kannel answered for this message alone."""

    status: SubmitStatus
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderDown:
    """Kannel cannot take anything now, or not from us (credentials, URL, sender)."""

    reason: str


def read_sendsms_answer(status_code: int, body: str) -> Submitted | ProviderDown:
    text = body.strip()
    if 200 <= status_code < 300:
        if text.startswith("3:"):
            return Submitted(SubmitStatus.ACCEPTED, "queued in kannel")
        return Submitted(SubmitStatus.ACCEPTED)
    short = sanitize(text) or "no reason given"
    if status_code == 403 and "Authorization failed" in text:
        return ProviderDown("kannel refused the sendsms username or password")
    if status_code == 403 and "Not routable" in text:
        return Submitted(SubmitStatus.PERMANENT_FAILURE, "kannel: not routable")
    if status_code == 400 and "Sender missing" in text:
        return ProviderDown("kannel wants a sender: set the provider's sender")
    if status_code in (401, 403, 404, 405):
        return ProviderDown(f"kannel answered {status_code}: {short}")
    if 400 <= status_code < 500:
        # The number or the text itself (denied prefix, empty receiver, charset).
        return Submitted(SubmitStatus.PERMANENT_FAILURE, f"kannel {status_code}: {short}")
    return ProviderDown(f"kannel answered {status_code}: {short}")


def dlr_outcome(dlr_type: int, smsc_reply: str | None = None) -> DeliveryOutcome | None:
    """The outcome a report means; None for the intermediate ones (queued, SMSC accepted)."""
    if dlr_type == DLR_DELIVERED:
        return DeliveryOutcome.DELIVERED
    if dlr_type == DLR_UNDELIVERED:
        return DeliveryOutcome.PERMANENT_FAILURE
    if dlr_type in (DLR_QUEUED, DLR_SMSC_ACCEPTED, DLR_INTERMEDIATE):
        return None
    if dlr_type == DLR_SMSC_REJECTED:
        return _rejected_outcome(smsc_reply or "")
    raise MalformedCallback(f"unknown DLR type {dlr_type}")


def _rejected_outcome(reply: str) -> DeliveryOutcome:
    if _RETRIES_EXCEEDED in reply:
        return DeliveryOutcome.TEMPORARY_FAILURE
    code = _NACK_CODE.match(reply)
    if code is not None:
        answer, _ = submit_answer(int(code["code"], 16))
        if answer is SubmitAnswer.PERMANENT:
            return DeliveryOutcome.PERMANENT_FAILURE
        return DeliveryOutcome.TEMPORARY_FAILURE
    # No reason worth trusting (a malformed message, a module's own word): the SMSC said no.
    return DeliveryOutcome.PERMANENT_FAILURE


def report_detail(dlr_type: int, smsc_reply: str | None) -> str:
    """What to keep of a report: its type and the status words of the SMSC's text."""
    reply = (smsc_reply or "").strip()
    stat = _RECEIPT_STAT.search(reply)
    if stat is not None:
        words = f"stat:{stat['stat']}" + (f" err:{stat['err']}" if stat["err"] else "")
        return f"dlr {dlr_type} {words}"
    if reply.startswith(("ACK/", "NACK/")) and len(reply) > reply.index("/") + 1:
        return f"dlr {dlr_type} {sanitize(reply)}"
    # Any other text may quote the message or the number: not kept.
    return f"dlr {dlr_type}"


def sanitize(text: str) -> str:
    """A short reason fit for a log line or a ledger row: first line, no long digit runs."""
    first = text.splitlines()[0] if text else ""
    return _DIGITS.sub("…", first)[:_DETAIL_MAX].strip()


def dlr_url(callback_base_url: str, provider: str, delivery_id: uuid.UUID) -> str:
    """The ``dlr-url`` for one delivery: it names the delivery itself, so a report needs no
    message-id correlation. Kannel fills the ``%`` codes when the report comes."""
    return (
        f"{_base(callback_base_url)}/kannel/{quote(provider)}/dlr"
        f"?{DELIVERY}={delivery_id}&{TYPE}=%d&{SMSC_REPLY}=%A&{SMSC_MESSAGE_ID}=%F&{TIME}=%T"
    )


def mo_url(callback_base_url: str, provider: str) -> str:
    """The ``get-url`` of the ``sms-service`` that hands members' messages (MO) to us."""
    return (
        f"{_base(callback_base_url)}/kannel/{quote(provider)}/mo"
        f"?{SENDER}=%q&{TEXT}=%b&{CHARSET}=%C&{TIME}=%T"
    )


def _base(callback_base_url: str) -> str:
    if "%" in callback_base_url:
        # Kannel would read it as one of its escape codes.
        raise ValueError("a callback base URL for Kannel cannot hold '%'")
    return callback_base_url.rstrip("/")


def parse_dlr(raw_query: str) -> DeliveryReport:
    """Kannel's call of a ``dlr-url`` made by :func:`dlr_url` (the raw query string)."""
    query = _query(raw_query)
    delivery = query.get(DELIVERY, b"").decode("ascii", errors="replace")
    try:
        delivery_id = uuid.UUID(delivery)
    except ValueError:
        raise MalformedCallback("no delivery id") from None
    dlr_type = _integer(query.get(TYPE), "type")
    reply = query.get(SMSC_REPLY, b"").decode("utf-8", errors="replace")
    message_id = query.get(SMSC_MESSAGE_ID, b"").decode("utf-8", errors="replace").strip()
    return DeliveryReport(
        outcome=dlr_outcome(dlr_type, reply),
        delivery_id=delivery_id,
        provider_message_id=message_id or None,
        detail=report_detail(dlr_type, reply),
        at=_time(query.get(TIME)),
    )


def parse_mo(raw_query: str) -> InboundReply:
    """Kannel's call of the ``get-url`` made by :func:`mo_url` (the raw query string)."""
    query = _query(raw_query)
    sender = query.get(SENDER, b"").decode("ascii", errors="replace").strip()
    if sender.startswith("00"):
        sender = "+" + sender[2:]
    if not _E164.match(sender):
        raise MalformedCallback(
            "the sender is not an international number (set the smsc's unified-prefix)"
        )
    charset = query.get(CHARSET, b"UTF-8").decode("ascii", errors="replace").strip() or "UTF-8"
    if charset.upper() == "8-BIT":
        raise MalformedCallback("a binary message is no reply")
    try:
        text = query.get(TEXT, b"").decode(charset)
    except LookupError:
        raise MalformedCallback(f"unknown charset {sanitize(charset)}") from None
    except UnicodeDecodeError:
        raise MalformedCallback(f"the text is not {sanitize(charset)}") from None
    return InboundReply(sender=sender, text=text, received_at=_time(query.get(TIME)))


def _query(raw_query: str) -> dict[str, bytes]:
    # Latin-1 maps each %XX to its byte, so the text's own charset can decode it after.
    pairs = parse_qsl(raw_query, keep_blank_values=True, encoding="latin-1")
    return {name: value.encode("latin-1") for name, value in pairs}


def _integer(value: bytes | None, name: str) -> int:
    try:
        return int(value or b"")
    except ValueError:
        raise MalformedCallback(f"no {name}") from None


def _time(value: bytes | None) -> datetime:
    # Kannel leaves %T empty where the message has no time; then it is now.
    try:
        return datetime.fromtimestamp(int(value or b""), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)
