"""E-mail outcomes, pure: SMTP replies to submit statuses, VERP return paths, RFC 3464 DSNs.

Details carry reply codes and enhanced status codes only ("550 5.1.1"): the free text of an
SMTP reply or a DSN often quotes the recipient's address, so it is never kept.
"""

from __future__ import annotations

import email
import email.errors
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import Message

from services.connectors.ports import DeliveryReport, SubmitStatus
from shared.events import DeliveryOutcome

_ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_CODE = re.compile(r"^\s*([2-5]\d\d)(?![\d])")
_QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]+)")
_VERP = re.compile(r"^(?P<local>[^@+\s]+)\+(?P<hex>[0-9a-fA-F]{32})@(?P<domain>[^@\s]+)$")
# Our Message-IDs are "<32 hex>@domain" (see the SMTP adapter's message builder).
_MESSAGE_ID = re.compile(r"<\s*([0-9a-fA-F]{32})@[^>]*>")

# Reply code 421: the server is closing the channel; whatever the stage, the message was not
# taken, and the server as a whole is going away (not this recipient's fault).
SERVICE_CLOSING = 421


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    status: SubmitStatus
    detail: str


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 enhanced status code ("5.1.1") in ``text``, if any."""
    found = _ENHANCED_STATUS.search(text)
    return ".".join(found.groups()) if found else None


def reply_detail(code: int, text: str) -> str:
    """ "550 5.1.1": the reply code and its enhanced status code, never the reply's text."""
    status = enhanced_status(text)
    return f"{code} {status}" if status else str(code)


def classify_reply(code: int, text: str) -> ReplyOutcome:
    """The outcome of a reply to RCPT or DATA (its end): 2xx accepted, 5xx permanent,
    anything else (4xx, or nonsense) temporary, so that the delivery is tried again."""
    if 200 <= code < 300:
        status = SubmitStatus.ACCEPTED
    elif 500 <= code < 600:
        status = SubmitStatus.PERMANENT_FAILURE
    else:
        status = SubmitStatus.TEMPORARY_FAILURE
    return ReplyOutcome(status, reply_detail(code, text))


def queue_id(text: str) -> str | None:
    """The relay's queue id from a 250 after DATA ("2.0.0 Ok: queued as 7188820CA7F"), as
    Postfix, Exim and Sendmail phrase it; handy to find the message in the relay's logs."""
    found = _QUEUED_AS.search(text)
    return found.group(1) if found else None


def return_path(delivery_id: uuid.UUID, local_part: str, domain: str) -> str:
    """The VERP envelope sender of one delivery: its bounce names the delivery by itself."""
    return f"{local_part}+{delivery_id.hex}@{domain}"


def delivery_from_return_path(
    address: str, *, local_part: str | None = None, domain: str | None = None
) -> uuid.UUID | None:
    """The delivery id in a VERP address, or None. With ``local_part``/``domain`` given, only
    addresses of that bounce mailbox count (compared without regard to case)."""
    address = address.strip()
    if address.lower().startswith("rfc822;"):
        address = address[len("rfc822;") :].strip()
    address = address.removeprefix("<").removesuffix(">")
    found = _VERP.match(address)
    if found is None:
        return None
    if local_part is not None and found["local"].lower() != local_part.lower():
        return None
    if domain is not None and found["domain"].lower() != domain.lower():
        return None
    return uuid.UUID(hex=found["hex"])


@dataclass(frozen=True, slots=True)
class BounceMail:
    """What came to the bounce address: a delivery status report or not (an auto-reply), and
    the reports in it that name one of our deliveries."""

    is_report: bool
    reports: list[DeliveryReport]
    # Recipient parts of a report that named no delivery of ours (counted, not reported).
    unmatched: int = 0


def parse_dsn(message: bytes, envelope_recipients: Sequence[str] = ()) -> list[DeliveryReport]:
    """The reports in an RFC 3464 DSN; [] for anything else, garbage included."""
    return read_bounce(message, envelope_recipients).reports


def read_bounce(message: bytes, envelope_recipients: Sequence[str] = ()) -> BounceMail:
    """Reads mail sent to the bounce address.

    The delivery is named, best first, by the VERP address the DSN was sent to
    (``envelope_recipients``, the bounce's RCPT TO), the DSN's ``Original-Envelope-Id``
    (our ENVID), or the returned message's ``X-BIN-Delivery`` or ``Message-ID``.
    """
    try:
        parsed = email.message_from_bytes(message)
        status_part = _delivery_status_part(parsed)
        if status_part is None:
            return BounceMail(is_report=False, reports=[])
        blocks = _status_blocks(status_part)
        if not blocks:
            return BounceMail(is_report=True, reports=[])
        per_message, per_recipient = blocks[0], blocks[1:]
        delivery_id = _delivery_id(parsed, per_message, envelope_recipients)
        if delivery_id is None:
            return BounceMail(is_report=True, reports=[], unmatched=len(per_recipient))
        reports = [
            report
            for block in per_recipient
            if (report := _recipient_report(block, delivery_id)) is not None
        ]
        return BounceMail(is_report=True, reports=reports)
    except (email.errors.MessageError, ValueError, TypeError, LookupError, AttributeError):
        # The stdlib parser is lenient, yet odd bytes can still trip header decoding: odd
        # mail to the bounce address is dropped, never an error the sending MTA would retry.
        return BounceMail(is_report=False, reports=[])


def _delivery_status_part(parsed: Message) -> Message | None:
    if parsed.get_content_type() != "multipart/report":
        return None
    # report-type is required; some MTAs omit it, so the part's own type decides. Only the
    # report's own parts count: a returned message may be a DSN itself (a bounce's bounce).
    for part in _parts(parsed):
        if part.get_content_type() in {"message/delivery-status", "message/global-delivery-status"}:
            return part
    return None


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # message/global-delivery-status (RFC 6533) is not split by the parser: split it here.
    if isinstance(payload, str):
        text = payload.replace("\r\n", "\n").strip()
        return [email.message_from_string(chunk) for chunk in re.split(r"\n\s*\n", text) if chunk]
    return []


def _delivery_id(
    parsed: Message, per_message: Message, envelope_recipients: Iterable[str]
) -> uuid.UUID | None:
    for recipient in envelope_recipients:
        if (found := delivery_from_return_path(recipient)) is not None:
            return found
    if (found := _as_uuid(per_message.get("Original-Envelope-Id"))) is not None:
        return found
    returned = _returned_headers(parsed)
    if returned is not None:
        if (found := _as_uuid(returned.get("X-BIN-Delivery"))) is not None:
            return found
        if (found := _from_message_id(returned.get("Message-ID"))) is not None:
            return found
    return None


def _parts(parsed: Message) -> list[Message]:
    payload = parsed.get_payload()
    if not isinstance(payload, list):
        return []
    return [part for part in payload if isinstance(part, Message)]


def _returned_headers(parsed: Message) -> Message | None:
    for part in _parts(parsed):
        kind = part.get_content_type()
        if kind in {"message/rfc822", "message/global"}:
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if kind in {"text/rfc822-headers", "message/global-headers"}:
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return email.message_from_bytes(raw)
    return None


def _as_uuid(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value.strip().strip("<>"))
    except ValueError:
        return None


def _from_message_id(value: object) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    found = _MESSAGE_ID.search(value)
    return uuid.UUID(hex=found.group(1)) if found else None


def _recipient_report(block: Message, delivery_id: uuid.UUID) -> DeliveryReport | None:
    action = _field(block, "Action").split("(")[0].strip().lower()
    status = enhanced_status(_field(block, "Status"))
    detail = _status_detail(status, _field(block, "Diagnostic-Code"))
    if action == "failed":
        # A failure with a 4.x.x status means the relay gave up retrying (the message
        # expired in its queue): as final for this address as a 5.x.x.
        outcome: DeliveryOutcome | None = DeliveryOutcome.PERMANENT_FAILURE
    elif action == "delivered":
        outcome = DeliveryOutcome.DELIVERED
    elif action in {"delayed", "relayed", "expanded"}:
        outcome = None
    else:
        return None
    return DeliveryReport(outcome=outcome, delivery_id=delivery_id, detail=detail)


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return str(value) if value is not None else ""


def _status_detail(status: str | None, diagnostic: str) -> str | None:
    """ "550 5.1.1" from the Diagnostic-Code's reply code and the Status field."""
    kind, _, text = diagnostic.partition(";")
    code = _REPLY_CODE.match(text) if kind.strip().lower() == "smtp" else None
    if code is None:
        return status
    return f"{code.group(1)} {status}" if status else code.group(1)
