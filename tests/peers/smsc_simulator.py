"""An SMSC simulator for the connector tests and benchmarks: an SMPP 3.4 server that counts
what really arrives at the SMSC, so a test can compare it with what the platform meant to send.

It accepts any bind, answers every ``submit_sm`` and keeps, per destination, each part and
each reassembled message (UDH concatenation with 8- or 16-bit references, or the SAR TLVs),
decoded to text (data_coding 0: GSM 03.38 unpacked, one septet per octet; 8: UCS-2; 3 and 1:
latin-1 and ASCII). ``duplicates`` counts complete messages beyond the first per destination:
a run gives each member a number of its own and expects exactly one message each.

Like a real SMSC it can push back and fail: a throughput limit (ESME_RTHROTTLED), every Nth
submit refused (ESME_RMSGQFUL), destinations refused outright (ESME_RINVDSTADR) or accepted and
then reported undeliverable in their delivery receipt, receipts sent before the
``submit_sm_resp`` they belong to, MO messages, a cap on concurrent binds, and the link
dropped abruptly for a while. Receipts that cannot be delivered (no receiving session bound,
the session went down, the ESME refused them) are kept and delivered again later, as an SMSC
does.

smpp34's ``Server`` can neither refuse a bind nor cut a session (``Server.stop()`` only stops
accepting; bound sessions go on), so the SMPP port is a small TCP relay in front of an
internal smpp34 ``Server`` on another loopback port: the relay refuses binds over
``--max-binds`` with a ``bind_*_resp`` carrying ESME_RBINDFAIL, ``/drop`` resets every
connection (RST) and stops listening for ``--drop-seconds``, and a bind_receiver reaches the
server as a bind_transceiver (smpp34's Server ignores deliver_sm_resp on receiver binds).

Run it with ``python -m tests.peers.smsc_simulator --smpp-port P --http-port H [options]``;
it prints ``ready`` once both ports listen. The HTTP side (127.0.0.1 only):

* ``GET /stats`` (``?detail=1`` adds ``per_destination``: parts, messages and texts);
* ``GET /options``, ``POST /options`` (JSON, any subset of :class:`Options`; null puts one
  back to its default, "" switches a prefix off);
* ``POST /mo`` ``{"sender", "recipient", "text"}`` (409 when no receiving session is bound);
* ``POST /drop`` (optional ``{"seconds": s}``) and ``POST /reset`` (zeroes the counters).

Tests start it through :class:`tests.peers.smsc.SmscSimulator`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import random
import secrets
import signal
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec
import smpp34
import uvicorn
import uvloop
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tests.ports import free_port

HOST = "127.0.0.1"

# SMPP 3.4 command_status values. smpp34 re-exports its ESME_* constants at run time, where
# a type checker cannot see them; ESME_RBINDFAIL it does not have at all.
ESME_RBINDFAIL = 0x0000000D
ESME_RINVDSTADR = 0x0000000B
ESME_RMSGQFUL = 0x00000014
ESME_RSYSERR = 0x00000008
ESME_RTHROTTLED = 0x00000058
BIND_RECEIVER = 0x00000001
BIND_TRANSCEIVER = 0x00000009
BIND_COMMANDS = {BIND_RECEIVER, 0x00000002, BIND_TRANSCEIVER}
RESPONSE = 0x80000000

TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
MESSAGE_STATE_DELIVERED = 2
MESSAGE_STATE_UNDELIVERABLE = 5

DLR_RETRY_SECONDS = 0.5


@dataclass
class Options:
    """What the simulator does; every field is also a CLI flag and a key of POST /options."""

    rate: float | None = None  # submits per second over all sessions; None: no limit
    queue_full_every: int | None = None  # every Nth submit refused with ESME_RMSGQFUL
    reject_prefix: str = "3299"  # refused at submit, ESME_RINVDSTADR
    undeliverable_prefix: str = "3298"  # accepted, then a receipt with stat:UNDELIV
    dlr_delay: float = 0.05  # seconds between accepting a part and sending its receipt
    receipt_before_response: float = 0.0  # fraction of receipts sent before submit_sm_resp
    max_binds: int | None = None  # binds beyond this are refused with ESME_RBINDFAIL
    drop_seconds: float = 1.0  # how long /drop keeps the SMPP port closed


class OptionsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float | None = Field(default=None, ge=0)
    queue_full_every: int | None = Field(default=None, ge=0)
    reject_prefix: str | None = None
    undeliverable_prefix: str | None = None
    dlr_delay: float | None = Field(default=None, ge=0)
    receipt_before_response: float | None = Field(default=None, ge=0, le=1)
    max_binds: int | None = Field(default=None, ge=0)
    drop_seconds: float | None = Field(default=None, ge=0)


class MoRequest(BaseModel):
    sender: str
    recipient: str
    text: str


class DropRequest(BaseModel):
    seconds: float | None = Field(default=None, ge=0)


def digits(address: str) -> str:
    """The prefixes compare on digits: '+3299…' and '3299…' are the same number."""
    return address[1:] if address.startswith("+") else address


class TokenBucket:
    """Allows ``rate`` submits a second with bursts of a tenth of a second (at least one)."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate / 10)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def decode_text(payload: bytes, data_coding: int) -> str:
    if data_coding == 8:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding == 3:
        return payload.decode("latin-1")
    if data_coding == 1:
        return payload.decode("ascii", errors="replace")
    if data_coding == 0:
        text: str = payload.decode("gsm03.38", errors="replace")
        return text
    return payload.hex()  # binary or a coding the simulator does not know: show the octets


# (reference key, total parts, this part's number), or None for a message in one part.
Concat = tuple[tuple[Any, ...], int, int]


def split_udh(short_message: bytes) -> tuple[int, Concat | None]:
    """The UDH's length (with its length octet) and the concatenation header in it, if any."""
    if not short_message:
        return 0, None
    udh_length = 1 + short_message[0]
    udh = short_message[1:udh_length]
    concat: Concat | None = None
    i = 0
    while i + 2 <= len(udh):
        iei, iel = udh[i], udh[i + 1]
        data = udh[i + 2 : i + 2 + iel]
        if iei == 0x00 and iel == 3 and len(data) == 3:
            concat = ((8, data[0]), data[1], data[2])
        elif iei == 0x08 and iel == 4 and len(data) == 4:
            concat = ((16, (data[0] << 8) | data[1]), data[2], data[3])
        i += 2 + iel
    return udh_length, concat


def sar_concat(tlvs: list[smpp34.Tlv]) -> Concat | None:
    found = {tlv.tag: tlv.as_int() for tlv in tlvs}
    ref, total, seq = (
        found.get(TLV_SAR_MSG_REF_NUM),
        found.get(TLV_SAR_TOTAL_SEGMENTS),
        found.get(TLV_SAR_SEGMENT_SEQNUM),
    )
    if ref is None or total is None or seq is None:
        return None
    return (("sar", ref), total, seq)


@dataclass(slots=True)
class Destination:
    parts: int = 0
    messages: int = 0
    texts: list[str] = field(default_factory=list)
    # Per part: (message_id, data_coding, esm_class, length, udh_length, registered_delivery)
    part_info: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "parts": self.parts,
            "messages": self.messages,
            "texts": self.texts,
            "part_info": [
                {
                    "message_id": mid,
                    "data_coding": dcs,
                    "esm_class": esm,
                    "length": length,
                    "udh_length": udh,
                    "payload_length": length - udh,
                    "registered_delivery": rd,
                }
                for mid, dcs, esm, length, udh, rd in self.part_info
            ],
        }


@dataclass(slots=True)
class Partial:
    total: int
    data_coding: int
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class Receipt:
    """A delivery receipt still to be delivered."""

    session_id: str
    message_id: str
    source_addr: str  # the original destination
    source_ton: int
    source_npi: int
    destination_addr: str  # the original sender
    dest_ton: int
    dest_npi: int
    delivered: bool
    submitted: float


@dataclass(slots=True)
class SessionInfo:
    system_id: str
    can_receive: bool
    submits: int = 0
    bound: bool = True


def receipt_pdu(receipt: Receipt) -> tuple[bytes, list[smpp34.Tlv]]:
    stamp = time.strftime("%y%m%d%H%M", time.gmtime(receipt.submitted))
    done = time.strftime("%y%m%d%H%M")
    stat, err, dlvrd, state = (
        ("DELIVRD", "000", "001", MESSAGE_STATE_DELIVERED)
        if receipt.delivered
        else ("UNDELIV", "001", "000", MESSAGE_STATE_UNDELIVERABLE)
    )
    text = (
        f"id:{receipt.message_id} sub:001 dlvrd:{dlvrd} submit date:{stamp} done date:{done} "
        f"stat:{stat} err:{err} text:"
    )
    tlvs = [
        smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, receipt.message_id.encode() + b"\x00"),
        smpp34.Tlv(TLV_MESSAGE_STATE, bytes((state,))),
    ]
    return text.encode("ascii"), tlvs


def mo_parts(text: str) -> tuple[int, list[bytes]]:
    """The data_coding and short_messages of an MO: GSM 03.38 when it fits, else UCS-2, split
    into concatenated parts (8-bit reference) when one part is too short."""
    try:
        encoded: bytes = text.encode("gsm03.38")
        data_coding, single, chunk = 0, 160, 153
    except UnicodeEncodeError:
        encoded = text.encode("utf-16-be")
        data_coding, single, chunk = 8, 140, 134
    if len(encoded) <= single:
        return data_coding, [encoded]
    chunks: list[bytes] = []
    rest = encoded
    while rest:
        cut = chunk
        if data_coding == 0 and len(rest) > cut and rest[cut - 1] == 0x1B:
            cut -= 1  # an escape and the character it escapes stay in one part
        chunks.append(rest[:cut])
        rest = rest[cut:]
    ref = random.randrange(256)
    return data_coding, [
        bytes((5, 0x00, 3, ref, len(chunks), n)) + part for n, part in enumerate(chunks, 1)
    ]


class Relay:
    """The SMPP port: relays bytes to the internal smpp34 server, refuses binds over the cap
    and can cut every connection at once."""

    def __init__(self, sim: Simulator, port: int, upstream_port: int) -> None:
        self.sim = sim
        self.port = port
        self.upstream_port = upstream_port
        self.links: set[ClientSide] = set()
        self.bound = 0  # connections whose bind went through to the server
        self.refused = 0
        self.drops = 0
        self.listening = False
        self._server: asyncio.Server | None = None
        self._reopen: asyncio.Task[None] | None = None

    async def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientSide(self), HOST, self.port, reuse_address=True
        )
        self.listening = True

    def drop(self, seconds: float) -> int:
        """Resets every connection and keeps the port closed for ``seconds``."""
        self.drops += 1
        dropped = len(self.links)
        for link in list(self.links):
            link.reset()
        if self._server is not None:
            self._server.close()
            self._server = None
        self.listening = False
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = asyncio.create_task(self._listen_after(seconds))
        return dropped

    async def _listen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.listen()

    async def close(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        for link in list(self.links):
            link.reset()
        if self._server is not None:
            self._server.close()


class ClientSide(asyncio.Protocol):
    """A connection from an ESME: held until its first PDU's header shows whether it is a
    bind to refuse, then relayed both ways with flow control."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.upstream: UpstreamSide | None = None
        self.pending = bytearray()
        self.decided = False
        self.counted = False
        self.closed = False
        self.as_transceiver = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.relay.links.add(self)

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(data)
            return
        self.pending += data
        if not self.decided and len(self.pending) >= 16:
            self.decided = True
            self._decide()

    def _decide(self) -> None:
        command_id, sequence = struct.unpack_from(">4xI4xI", self.pending)
        relay = self.relay
        cap = relay.sim.options.max_binds
        if command_id in BIND_COMMANDS and cap is not None and relay.bound >= cap:
            relay.refused += 1
            body = relay.sim.system_id.encode() + b"\x00"
            header = struct.pack(
                ">IIII", 16 + len(body), command_id | RESPONSE, ESME_RBINDFAIL, sequence
            )
            assert self.transport is not None
            self.transport.write(header + body)
            self.transport.close()
            return
        if command_id in BIND_COMMANDS:
            self.counted = True
            relay.bound += 1
        if command_id == BIND_RECEIVER:
            # smpp34's Server takes deliver_sm_resp only on TX and TRX binds (so a receipt to
            # a receiver never gets its response and times out after 30 s): the server sees
            # a transceiver, the ESME a bind_receiver_resp.
            self.as_transceiver = True
            struct.pack_into(">I", self.pending, 4, BIND_TRANSCEIVER)
        asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(
                lambda: UpstreamSide(self), HOST, self.relay.upstream_port
            )
        except OSError:
            self.reset()
            return
        if self.closed:
            upstream.reset()
            return
        self.upstream = upstream
        assert upstream.transport is not None
        upstream.transport.write(bytes(self.pending))
        self.pending.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()

    def _forget(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.relay.links.discard(self)
        if self.counted:
            self.relay.bound -= 1

    def reset(self) -> None:
        """Closes with a TCP reset, as a link that fails does, on both sides."""
        self._forget()
        if self.transport is not None:
            abort_with_reset(self.transport)
        if self.upstream is not None:
            self.upstream.reset()

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()


class UpstreamSide(asyncio.Protocol):
    def __init__(self, client: ClientSide) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.head: bytearray | None = bytearray() if client.as_transceiver else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            self.head += data
            if len(self.head) < 8:
                return
            data, self.head = bytes(self._as_receiver(self.head)), None
        if self.client.transport is not None and not self.client.closed:
            self.client.transport.write(data)

    @staticmethod
    def _as_receiver(head: bytearray) -> bytearray:
        """The bind_transceiver_resp that opens the stream, made the bind_receiver_resp the
        ESME asked for."""
        (command_id,) = struct.unpack_from(">I", head, 4)
        if command_id == BIND_TRANSCEIVER | RESPONSE:
            struct.pack_into(">I", head, 4, BIND_RECEIVER | RESPONSE)
        return head

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.transport is not None and not self.client.closed:
            self.client.transport.close()

    def reset(self) -> None:
        if self.transport is not None:
            abort_with_reset(self.transport)

    def pause_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.resume_reading()


def abort_with_reset(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


@dataclass(slots=True)
class Counters:
    received: int = 0  # every submit_sm that reached the simulator
    submits: int = 0  # accepted parts
    messages: int = 0  # complete (reassembled) messages
    duplicates: int = 0  # complete messages beyond the first for their destination
    duplicate_parts: int = 0  # a part number that came again while its message was open
    throttled: int = 0
    queue_full: int = 0
    invalid_destination: int = 0
    dlrs_sent: int = 0  # receipts the ESME answered with ESME_ROK
    dlr_retries: int = 0
    receipts_before_response: int = 0
    mo_sent: int = 0


class Simulator:
    def __init__(self, options: Options, *, system_id: str = "BINSIM") -> None:
        self.options = options
        self.system_id = system_id
        self.counters = Counters()
        self.per_destination: dict[str, Destination] = {}
        self.partials: dict[tuple[str, tuple[Any, ...]], Partial] = {}
        self.sessions: dict[str, smpp34.Esme] = {}
        self.session_info: dict[str, SessionInfo] = {}
        self.backlog: deque[Receipt] = deque()
        self.in_flight = 0
        self.bucket = TokenBucket(options.rate) if options.rate else None
        self.arrivals = 0  # submits past the throttle, for --queue-full-every
        # Message ids unique across runs too: a client mixing runs' receipts shows up.
        self.id_prefix = secrets.token_hex(3)
        self.next_id = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.relay: Relay | None = None
        self._round_robin = 0

    # ── options ──────────────────────────────────────────────────────────────────────────
    def update(self, changes: dict[str, Any]) -> None:
        """Applies ``changes``; a None puts an option back to its built-in default."""
        defaults = Options()
        changes = {
            name: getattr(defaults, name) if value is None else value
            for name, value in changes.items()
        }
        self.options = dataclasses.replace(self.options, **changes)
        if "rate" in changes:
            self.bucket = TokenBucket(self.options.rate) if self.options.rate else None
        if "queue_full_every" in changes:
            self.arrivals = 0

    def reset(self) -> None:
        self.counters = Counters()
        self.per_destination.clear()
        self.partials.clear()
        self.arrivals = 0
        self.session_info = {
            sid: SessionInfo(info.system_id, info.can_receive)
            for sid, info in self.session_info.items()
            if info.bound
        }

    # ── SMPP events ──────────────────────────────────────────────────────────────────────
    async def serve(self, server: smpp34.Server) -> None:
        on_submit = self.on_submit
        submit_type = smpp34.SubmitSmEvent
        while True:
            event = await server.next()
            if type(event) is submit_type:
                on_submit(event)
            elif isinstance(event, smpp34.Esme):
                self.on_bound(event)
            elif isinstance(event, smpp34.Unbound):
                self.on_unbound(event.session_id)

    def on_bound(self, esme: smpp34.Esme) -> None:
        self.sessions[esme.session_id] = esme
        self.session_info[esme.session_id] = SessionInfo(esme.system_id, esme.can_receive)
        if esme.can_receive:
            while self.backlog:
                self.spawn(self.deliver_receipt(self.backlog.popleft()))

    def on_unbound(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        info = self.session_info.get(session_id)
        if info is not None:
            info.bound = False

    def on_submit(self, event: smpp34.SubmitSmEvent) -> None:
        c = self.counters
        c.received += 1
        if self.bucket is not None and not self.bucket.take():
            c.throttled += 1
            event.reject(ESME_RTHROTTLED)
            return
        options = self.options
        self.arrivals += 1
        if options.queue_full_every and self.arrivals % options.queue_full_every == 0:
            c.queue_full += 1
            event.reject(ESME_RMSGQFUL)
            return
        destination = event.destination_addr
        number = digits(destination)
        if options.reject_prefix and number.startswith(digits(options.reject_prefix)):
            c.invalid_destination += 1
            event.reject(ESME_RINVDSTADR)
            return

        self.next_id += 1
        message_id = f"{self.id_prefix}{self.next_id:08x}"
        c.submits += 1
        session_id = event.session_id
        info = self.session_info.get(session_id)
        if info is not None:
            info.submits += 1
        registered_delivery = event.registered_delivery
        self.record(destination, event, message_id, registered_delivery)

        if not registered_delivery & 0x01:
            event.accept(message_id)
            return
        undeliverable = options.undeliverable_prefix and number.startswith(
            digits(options.undeliverable_prefix)
        )
        receipt = Receipt(
            session_id,
            message_id,
            destination,
            event.dest_addr_ton,
            event.dest_addr_npi,
            event.source_addr,
            event.source_addr_ton,
            event.source_addr_npi,
            not undeliverable,
            time.time(),
        )
        if options.receipt_before_response and random.random() < options.receipt_before_response:
            self.spawn(self.receipt_then_accept(receipt, event))
            return
        event.accept(message_id)
        self.in_flight += 1
        asyncio.get_running_loop().call_later(options.dlr_delay, self.spawn_receipt, receipt)

    def record(
        self,
        destination: str,
        event: smpp34.SubmitSmEvent,
        message_id: str,
        registered_delivery: int,
    ) -> None:
        short_message = event.short_message
        esm_class = event.esm_class
        data_coding = event.data_coding
        tlvs = event.tlvs
        udh_length, concat = split_udh(short_message) if esm_class & 0x40 else (0, None)
        if concat is None and tlvs:
            concat = sar_concat(tlvs)
        payload = short_message[udh_length:]
        if not short_message and tlvs:
            for tlv in tlvs:
                if tlv.tag == TLV_MESSAGE_PAYLOAD:
                    payload = tlv.value
        dest = self.per_destination.get(destination)
        if dest is None:
            dest = self.per_destination[destination] = Destination()
        dest.parts += 1
        dest.part_info.append(
            (
                message_id,
                data_coding,
                esm_class,
                len(short_message),
                udh_length,
                registered_delivery,
            )
        )
        if concat is None or concat[1] <= 1:
            self.complete(dest, decode_text(payload, data_coding))
            return
        ref, total, seq = concat
        key = (destination, ref)
        partial = self.partials.get(key)
        if partial is None:
            partial = self.partials[key] = Partial(total, data_coding)
        if seq in partial.parts:
            self.counters.duplicate_parts += 1
        partial.parts[seq] = payload
        if all(n in partial.parts for n in range(1, partial.total + 1)):
            del self.partials[key]
            whole = b"".join(partial.parts[n] for n in range(1, partial.total + 1))
            self.complete(dest, decode_text(whole, partial.data_coding))

    def complete(self, dest: Destination, text: str) -> None:
        dest.messages += 1
        dest.texts.append(text)
        self.counters.messages += 1
        if dest.messages > 1:
            self.counters.duplicates += 1

    # ── receipts ─────────────────────────────────────────────────────────────────────────
    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def spawn_receipt(self, receipt: Receipt) -> None:
        self.in_flight -= 1
        self.spawn(self.deliver_receipt(receipt))

    def receiver(self, session_id: str | None) -> smpp34.Esme | None:
        """The session the receipt came in on if it can receive, else any that can."""
        if session_id is not None:
            esme = self.sessions.get(session_id)
            if esme is not None and esme.can_receive:
                return esme
        receivers = [esme for esme in self.sessions.values() if esme.can_receive]
        if not receivers:
            return None
        self._round_robin += 1
        return receivers[self._round_robin % len(receivers)]

    async def send_receipt(self, receipt: Receipt) -> bool:
        esme = self.receiver(receipt.session_id)
        if esme is None:
            return False
        text, tlvs = receipt_pdu(receipt)
        try:
            response = await esme.deliver_sm(
                receipt.destination_addr,
                text,
                source_addr=receipt.source_addr,
                source_addr_ton=receipt.source_ton,
                source_addr_npi=receipt.source_npi,
                dest_addr_ton=receipt.dest_ton,
                dest_addr_npi=receipt.dest_npi,
                esm_class=0x04,
                tlvs=tlvs,
            )
        except smpp34.SmppError:
            return False
        if not response.is_success:
            return False
        self.counters.dlrs_sent += 1
        return True

    async def deliver_receipt(self, receipt: Receipt) -> None:
        self.in_flight += 1
        try:
            if await self.send_receipt(receipt):
                return
        finally:
            self.in_flight -= 1
        self.retry_later(receipt)

    def retry_later(self, receipt: Receipt) -> None:
        """A receipt the ESME did not take: again shortly if a receiver is bound, else as soon
        as one binds."""
        self.counters.dlr_retries += 1
        if any(esme.can_receive for esme in self.sessions.values()):
            self.in_flight += 1
            asyncio.get_running_loop().call_later(DLR_RETRY_SECONDS, self.spawn_receipt, receipt)
        else:
            self.backlog.append(receipt)

    async def receipt_then_accept(self, receipt: Receipt, event: smpp34.SubmitSmEvent) -> None:
        # Awaiting the deliver_sm_resp first means the ESME has the receipt in hand before the
        # submit_sm_resp is even written: the order a real SMSC sometimes produces.
        self.in_flight += 1
        try:
            sent = await self.send_receipt(receipt)
        finally:
            self.in_flight -= 1
        event.accept(receipt.message_id)
        if sent:
            self.counters.receipts_before_response += 1
        else:
            self.retry_later(receipt)

    # ── MO ───────────────────────────────────────────────────────────────────────────────
    async def send_mo(self, sender: str, recipient: str, text: str) -> dict[str, Any] | None:
        esme = self.receiver(None)
        if esme is None:
            return None
        data_coding, parts = mo_parts(text)
        international = 1 if sender.startswith("+") else 0
        statuses = []
        for part in parts:
            try:
                response = await esme.deliver_sm(
                    recipient,
                    part,
                    source_addr=sender,
                    source_addr_ton=international,
                    source_addr_npi=international,
                    dest_addr_ton=0,
                    dest_addr_npi=0,
                    esm_class=0x40 if len(parts) > 1 else 0x00,
                    data_coding=data_coding,
                )
            except smpp34.SmppError:  # the session went down under it
                statuses.append(ESME_RSYSERR)
                break
            statuses.append(response.command_status)
        if all(status == 0 for status in statuses):
            self.counters.mo_sent += 1
        return {
            "session_id": esme.session_id,
            "data_coding": data_coding,
            "parts": len(parts),
            "statuses": statuses,
        }

    # ── stats ────────────────────────────────────────────────────────────────────────────
    def stats(self, detail: bool) -> dict[str, Any]:
        """The :class:`Counters`, and: ``rejected`` (queue_full + invalid_destination, not
        throttled), ``destinations`` (distinct, with an accepted part), ``incomplete``
        (concatenations still missing a part), ``binds`` (sessions bound now),
        ``connections``, ``binds_refused``, ``drops``, ``listening`` (false during a drop),
        ``dlrs_pending`` (receipts not yet acknowledged by an ESME), ``per_session`` and
        ``options``; with ``detail``, ``per_destination``."""
        relay = self.relay
        result: dict[str, Any] = {
            **dataclasses.asdict(self.counters),
            "rejected": self.counters.queue_full + self.counters.invalid_destination,
            "destinations": len(self.per_destination),
            "incomplete": len(self.partials),
            "binds": len(self.sessions),
            "connections": len(relay.links) if relay else 0,
            "binds_refused": relay.refused if relay else 0,
            "drops": relay.drops if relay else 0,
            "listening": relay.listening if relay else False,
            "dlrs_pending": len(self.backlog) + self.in_flight,
            "per_session": {
                sid: dataclasses.asdict(info) for sid, info in self.session_info.items()
            },
            "options": dataclasses.asdict(self.options),
        }
        if detail:
            result["per_destination"] = {
                number: dest.as_json() for number, dest in self.per_destination.items()
            }
        return result


def http_app(sim: Simulator) -> FastAPI:
    app = FastAPI(title="SMSC simulator")

    @app.get("/stats")
    async def stats(detail: int = 0) -> dict[str, Any]:
        return sim.stats(bool(detail))

    @app.get("/options")
    async def get_options() -> dict[str, Any]:
        return dataclasses.asdict(sim.options)

    @app.post("/options")
    async def set_options(update: OptionsUpdate) -> dict[str, Any]:
        sim.update(update.model_dump(exclude_unset=True))
        return dataclasses.asdict(sim.options)

    @app.post("/mo", response_model=None)
    async def mo(request: MoRequest) -> dict[str, Any] | JSONResponse:
        sent = await sim.send_mo(request.sender, request.recipient, request.text)
        if sent is None:
            return JSONResponse({"detail": "no receiving session is bound"}, status_code=409)
        if any(sent["statuses"]):
            return JSONResponse({"detail": "the ESME refused the MO", **sent}, status_code=502)
        return sent

    @app.post("/drop")
    async def drop(request: DropRequest | None = None) -> dict[str, Any]:
        assert sim.relay is not None
        seconds = sim.options.drop_seconds
        if request is not None and request.seconds is not None:
            seconds = request.seconds
        return {"dropped": sim.relay.drop(seconds), "seconds": seconds}

    @app.post("/reset")
    async def reset() -> dict[str, Any]:
        sim.reset()
        return sim.stats(False)

    return app


class HttpServer(uvicorn.Server):
    """uvicorn without its signal handlers: the simulator shuts itself down on a signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def start_internal_server(system_id: str) -> tuple[smpp34.Server, int]:
    for _ in range(10):
        port = free_port()
        # A large inbound queue: when it is full smpp34 refuses submits with ESME_RMSGQFUL
        # without telling Python, and the simulator would not count them.
        server = smpp34.Server(HOST, port, system_id=system_id, inbound_capacity=1 << 17)
        try:
            await server.start()
        except smpp34.SmppError:
            continue  # another process took the port between the probe and the bind
        return server, port
    raise RuntimeError("no free loopback port for the internal SMPP server")


async def orphaned(parent_pid: int) -> None:
    """Returns once the test process that started the simulator is gone: a test run that
    was killed cannot stop() it, and it must not outlive that run."""
    try:
        pidfd = os.pidfd_open(parent_pid)  # readable once that process has exited
    except ProcessLookupError:
        return
    gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(pidfd, gone.set)
    try:
        if os.getppid() == parent_pid:
            await gone.wait()
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def run(
    options: Options,
    smpp_port: int,
    http_port: int,
    system_id: str,
    parent_pid: int | None = None,
) -> None:
    sim = Simulator(options, system_id=system_id)
    server, internal_port = await start_internal_server(system_id)
    serving = asyncio.create_task(sim.serve(server))
    sim.relay = Relay(sim, smpp_port, internal_port)
    await sim.relay.listen()

    config = uvicorn.Config(
        http_app(sim), host=HOST, port=http_port, log_level="warning", access_log=False
    )
    http = HttpServer(config)
    http_task = asyncio.create_task(http.serve())
    while not http.started:
        if http_task.done():
            http_task.result()  # raises why uvicorn could not start
            raise RuntimeError("the HTTP server stopped before it started")
        await asyncio.sleep(0.01)
    print("ready", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    watched = {stopping, http_task, serving}
    if parent_pid is not None:
        watched.add(asyncio.create_task(orphaned(parent_pid)))
    await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)

    http.should_exit = True
    await sim.relay.close()
    await server.stop()
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError, smpp34.SmppError):
        await serving
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(http_task, 3)
    for task in list(sim.tasks):
        task.cancel()


def parse_args(argv: list[str]) -> argparse.Namespace:
    defaults = Options()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smpp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--system-id", default="BINSIM")
    parser.add_argument("--rate", type=float, default=defaults.rate)
    parser.add_argument("--queue-full-every", type=int, default=defaults.queue_full_every)
    parser.add_argument("--reject-prefix", default=defaults.reject_prefix)
    parser.add_argument("--undeliverable-prefix", default=defaults.undeliverable_prefix)
    parser.add_argument("--dlr-delay", type=float, default=defaults.dlr_delay)
    parser.add_argument(
        "--receipt-before-response", type=float, default=defaults.receipt_before_response
    )
    parser.add_argument("--max-binds", type=int, default=defaults.max_binds)
    parser.add_argument("--drop-seconds", type=float, default=defaults.drop_seconds)
    parser.add_argument("--seed", type=int, default=None, help="for --receipt-before-response")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when it is gone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.seed is not None:
        random.seed(args.seed)
    options = Options(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)},
    )
    if options.rate == 0:
        options.rate = None
    # uvloop: a third less CPU per submit than asyncio's loop, which is most of the headroom
    # on a two-core machine that also runs the load generator.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(options, args.smpp_port, args.http_port, args.system_id, args.parent_pid))
    # smpp34's tokio threads can still touch the interpreter while it finalizes, which aborts
    # the process ("PyGILState_Release: thread state ... must be current"); nothing is left to
    # flush but the standard streams.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
