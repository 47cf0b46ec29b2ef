"""Texts as SMS parts: GSM 03.38 where every character has a septet, UCS-2 otherwise, and
concatenation (a user data header per part) when the text does not fit one message.

Pure functions, used by the SMPP adapter (Kannel does all this itself). The GSM 03.38 code
table is the ``gsm0338`` codec's; SMPP carries GSM text unpacked, one octet per septet, with
characters of the extension table (``€``, ``[``, ...) as an escape and a second septet.
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_CODEC = "gsm03.38"
# SMPP data_coding: 0 is the SMSC's default alphabet (GSM 03.38), 8 is UCS-2.
DATA_CODING_GSM = 0x00
DATA_CODING_UCS2 = 0x08
ESM_CLASS_UDHI = 0x40
ESCAPE = 0x1B

SINGLE_GSM_SEPTETS = 160
PART_GSM_SEPTETS = 153  # 160 less the 6-octet header's 7 septets
SINGLE_UCS2_OCTETS = 140
PART_UCS2_OCTETS = 134  # 140 less the 6-octet header
# A text longer than this many parts is refused: operators cap concatenation (often at 8
# or 10) and an alert that long is a mistake.
MAX_PARTS = 10


class TextTooLong(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class SmsPart:
    data_coding: int
    esm_class: int
    short_message: bytes  # user data header (when concatenated) + payload


def encode(text: str, reference: int) -> list[SmsPart]:
    """The parts of ``text``; ``reference`` (0-255) ties a concatenated message's parts."""
    try:
        payload = text.encode(GSM_CODEC)
        coding, single, part_size = DATA_CODING_GSM, SINGLE_GSM_SEPTETS, PART_GSM_SEPTETS
    except UnicodeEncodeError:
        payload = text.encode("utf-16-be")
        coding, single, part_size = DATA_CODING_UCS2, SINGLE_UCS2_OCTETS, PART_UCS2_OCTETS
    if len(payload) <= single:
        return [SmsPart(coding, 0, payload)]
    chunks = _split(payload, part_size, coding)
    if len(chunks) > MAX_PARTS:
        raise TextTooLong(f"{len(chunks)} parts, more than {MAX_PARTS}")
    ref = reference & 0xFF
    return [
        SmsPart(coding, ESM_CLASS_UDHI, bytes((0x05, 0x00, 0x03, ref, len(chunks), i)) + chunk)
        for i, chunk in enumerate(chunks, start=1)
    ]


def part_count(text: str) -> int:
    return len(encode(text, 0))


def _split(payload: bytes, size: int, coding: int) -> list[bytes]:
    """Cuts at ``size`` octets, never inside a GSM escape pair or a UTF-16 surrogate pair,
    which a handset would show as garbage on both sides of the cut."""
    chunks = []
    start = 0
    while start < len(payload):
        end = min(start + size, len(payload))
        if end < len(payload):
            if coding == DATA_CODING_GSM and _ends_in_escape(payload, start, end):
                end -= 1
            elif coding == DATA_CODING_UCS2 and 0xD8 <= payload[end - 2] <= 0xDB:
                end -= 2
        chunks.append(payload[start:end])
        start = end
    return chunks


def _ends_in_escape(payload: bytes, start: int, end: int) -> bool:
    # An odd run of escapes before the cut means the last one opens a pair.
    run = 0
    index = end - 1
    while index >= start and payload[index] == ESCAPE:
        run += 1
        index -= 1
    return run % 2 == 1


def decode(data_coding: int, esm_class: int, short_message: bytes) -> str:
    """The text of one incoming message (a member's MO SMS); the header, if any, dropped."""
    body = short_message
    if esm_class & ESM_CLASS_UDHI and body:
        body = body[1 + body[0] :]
    if data_coding == DATA_CODING_UCS2:
        return body.decode("utf-16-be", errors="replace")
    if data_coding in (DATA_CODING_GSM, 0x01):
        try:
            return body.decode(GSM_CODEC)
        except UnicodeDecodeError:
            return body.decode("latin-1")
    return body.decode("latin-1")
