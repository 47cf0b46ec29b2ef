"""SMS over SMPP 3.4, straight to a provider's SMSC.

Built on ``smpp34`` (PyPI, Rust core): it does the framing, sequence numbers, the window of
outstanding submits, enquire_link and the answers to the SMSC's own requests. What it does
not do is here: several transceiver binds with reconnect and backoff, GSM 03.38 / UCS-2
encoding with concatenation (:mod:`services.connectors.domain.sms_encoding`), slowing down
on ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL`` instead of failing, and turning ``deliver_sm``
into delivery reports (matched by the SMSC's message id in the ledger, so a receipt that
overtakes its ``submit_sm_resp`` is kept and matched later) or members' replies.

Why smpp34 and not aiosmpplib: aiosmpplib 0.7.4 stores a submit's correlation only after
awaiting ``drain()``, so a fast ``submit_sm_resp`` can arrive first and its match is lost
(about 2 runs in 8 when tried here); smpp34 correlates in its core before writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import smpp34
from pydantic import Field, SecretStr

from services.connectors import metrics
from services.connectors.config import ProviderConfig, read_secret
from services.connectors.domain import smpp_status, sms_encoding
from services.connectors.domain.smpp_status import SubmitAnswer
from services.connectors.ports import (
    DeliveryReport,
    InboundReply,
    OutgoingMessage,
    ProviderUnavailable,
    ReportSink,
    SubmitResult,
    SubmitStatus,
)
from shared.logging import get_logger

log = get_logger(__name__)

INBOUND_CAPACITY = 100_000
READ_AFTER_LOSS_SECONDS = 5.0
REPORT_RETRY_SECONDS = 300.0

Item = TypeVar("Item")


class SmppConfig(ProviderConfig):
    kind: Literal["smpp"] = "smpp"
    channel: str = "sms"
    host: str
    port: int = Field(default=2775, ge=1, le=65535)
    system_id: str = Field(min_length=1, max_length=15)
    password: SecretStr | None = None
    password_file: Path | None = None
    system_type: str = ""
    tls: bool = False
    # The BIN's sender: an alphanumeric id (TON 5) or a number (TON 1, NPI 1).
    source_addr: str = Field(default="BIN", max_length=20)
    source_addr_ton: int = 5
    source_addr_npi: int = 0
    # Transceiver binds this replica opens (the account's limit is across replicas).
    binds: int = Field(default=1, ge=1, le=64)
    # Outstanding submits per bind (the SMSC's window).
    window: int = Field(default=10, ge=1, le=1000)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    submit_timeout_seconds: float = Field(default=30.0, gt=0)
    # Waiting for a bind before a batch is given to the next provider.
    bind_wait_seconds: float = Field(default=2.0, ge=0)
    reconnect_min_seconds: float = Field(default=0.5, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
    # On throttling: first pause, and how long one part may keep being slowed down.
    slow_down_seconds: float = Field(default=0.1, gt=0)
    slow_down_for_seconds: float = Field(default=60.0, gt=0)


class _Bind:
    """One transceiver session, reconnected with backoff for as long as the provider runs."""

    def __init__(self, provider: SmppProvider, index: int) -> None:
        self.provider = provider
        self.index = index
        self.session: smpp34.Smsc | None = None
        # smpp34 does not hold its window_size itself: this does.
        self.window = asyncio.Semaphore(provider.config.window)
        self.bound = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    def lost(self, reason: str) -> None:
        """The link is gone (a submit failed on it): no new submit goes to it from now on,
        and it is bound again. Only what was already on it is in doubt."""
        if not self.bound.is_set():
            return
        self.bound.clear()
        self.provider.last_error = reason
        self._lost.set()

    async def run(self) -> None:
        config = self.provider.config
        pause = config.reconnect_min_seconds
        while True:
            try:
                client = smpp34.Client(
                    config.host, config.port, config.system_id, self.provider.password,
                    bind_type="TRX", system_type=config.system_type, tls=config.tls,
                    window_size=config.window,
                    # A full inbound queue makes smpp34 refuse a receipt with a malformed
                    # PDU, and the SMSC drops the link: room for every receipt of a window.
                    inbound_capacity=INBOUND_CAPACITY,
                    connect_timeout_ms=int(config.connect_timeout_seconds * 1000),
                )  # fmt: skip
                self.session = await client.connect()
            except Exception as error:  # noqa: BLE001 (smpp34 raises several kinds)
                self.provider.last_error = f"bind failed: {error}"
                log.warning("smpp bind failed", provider=self.provider.name, bind=self.index,
                            error=str(error), retry_in=pause)  # fmt: skip
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, config.reconnect_max_seconds)
                continue
            pause = config.reconnect_min_seconds
            self.bound.set()
            log.info("smpp bound", provider=self.provider.name, bind=self.index)
            self._lost.clear()
            self._reader = asyncio.create_task(self._read(self.session))
            lost = asyncio.create_task(self._lost.wait())
            try:
                await asyncio.wait({self._reader, lost}, return_when=asyncio.FIRST_COMPLETED)
                if not self._reader.done():
                    # The receipts smpp34 took (and acknowledged) before the link broke are
                    # still in its queue: read them before giving the session up. A dead
                    # link's end-of-session event can go missing, hence the bound.
                    await asyncio.wait({self._reader}, timeout=READ_AFTER_LOSS_SECONDS)
            finally:
                lost.cancel()
                self._reader.cancel()
                self.bound.clear()
                session, self.session = self.session, None
                # unbind, not just stop: a stopped client leaves its socket open, and a
                # submit on it would still go out (smpp34 1.5).
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await session.unbind()
                with contextlib.suppress(Exception):
                    await client.stop()
            log.warning("smpp link closed", provider=self.provider.name, bind=self.index,
                        reason=self.provider.last_error)  # fmt: skip

    async def _read(self, session: smpp34.Smsc) -> None:
        while True:
            event = await session.next()
            if isinstance(event, smpp34.Disconnected):
                self.provider.last_error = "link closed by the SMSC"
                return
            self.provider.incoming(event)


class SmppProvider:
    def __init__(self, config: SmppConfig) -> None:
        self.config = config
        self.name = config.name
        self.channel = "sms"
        self.password = read_secret(config.password, config.password_file) or ""
        self.last_error = "not bound yet"
        self._binds = [_Bind(self, i) for i in range(config.binds)]
        self._turn = itertools.count()
        self._references = itertools.count(random.randrange(256))
        self._sink: ReportSink | None = None
        # Reports handed to the sink and not yet recorded: bounded, so a slow database
        # slows the reading of the link rather than growing memory without end.
        self._recording = asyncio.Semaphore(5000)
        self._tasks: set[asyncio.Task[None]] = set()

    def cost(self, message: OutgoingMessage) -> int:
        """submit_sm PDUs the message takes: what the provider's rate counts."""
        try:
            return sms_encoding.part_count(message.text)
        except sms_encoding.TextTooLong:
            return 1

    async def start(self, sink: ReportSink) -> None:
        self._sink = sink
        for bind in self._binds:
            bind.task = asyncio.create_task(bind.run(), name=f"smpp {self.name} {bind.index}")

    async def stop(self) -> None:
        for bind in self._binds:
            if bind.session is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2):
                        await bind.session.unbind()
            if bind.task is not None:
                bind.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bind.task
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- sending ---------------------------------------------------------------------

    async def send(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        if not await self._any_bound():
            raise ProviderUnavailable(f"{self.name}: no bind ({self.last_error})")
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))

    async def _any_bound(self) -> bool:
        if any(b.bound.is_set() for b in self._binds):
            return True
        waits = [asyncio.ensure_future(b.bound.wait()) for b in self._binds]
        try:
            done, _ = await asyncio.wait(
                waits, timeout=self.config.bind_wait_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for wait in waits:
                wait.cancel()
        return bool(done)

    def _next_bind(self) -> _Bind | None:
        bound = [b for b in self._binds if b.bound.is_set()]
        if not bound:
            return None
        return bound[next(self._turn) % len(bound)]

    async def _send_one(self, message: OutgoingMessage) -> SubmitResult:
        try:
            parts = sms_encoding.encode(message.text, next(self._references))
        except sms_encoding.TextTooLong as error:
            return SubmitResult(message.delivery_id, SubmitStatus.PERMANENT_FAILURE,
                                detail=f"text too long: {error}")  # fmt: skip
        message_ids: list[str] = []
        for part in parts:
            answer, value = await self._submit_part(message, part, attempted=bool(message_ids))
            if answer is None:
                # The link broke: nothing of it sent yet (UNSENT) or maybe some (IN_DOUBT).
                status = SubmitStatus.IN_DOUBT if value == "in doubt" or message_ids else (
                    SubmitStatus.UNSENT)  # fmt: skip
                return SubmitResult(message.delivery_id, status, detail=value)
            if answer is not SubmitAnswer.ACCEPTED:
                return SubmitResult(
                    message.delivery_id,
                    smpp_status.submit_status(answer),
                    tuple(message_ids),
                    detail=value,
                )
            assert value is not None
            message_ids.append(value)
        return SubmitResult(message.delivery_id, SubmitStatus.ACCEPTED, tuple(message_ids))

    async def _submit_part(
        self, message: OutgoingMessage, part: sms_encoding.SmsPart, attempted: bool
    ) -> tuple[SubmitAnswer | None, str | None]:
        """(answer, message id or detail); answer None: the link is gone ("unsent" when
        the SMSC cannot have this part, "in doubt" when it may)."""
        pause = self.config.slow_down_seconds
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.config.slow_down_for_seconds
        while True:
            bind = self._next_bind()
            if bind is None or bind.session is None:
                return None, "unsent"
            async with bind.window:
                session = bind.session
                if session is None:
                    return None, "unsent"
                try:
                    async with asyncio.timeout(self.config.submit_timeout_seconds):
                        response = await session.submit_sm(
                            _destination(message.address),
                            part.short_message,
                            source_addr=self.config.source_addr,
                            source_addr_ton=self.config.source_addr_ton,
                            source_addr_npi=self.config.source_addr_npi,
                            dest_addr_ton=1,
                            dest_addr_npi=1,
                            esm_class=part.esm_class,
                            data_coding=part.data_coding,
                            registered_delivery=1,
                            # Urgent alerts first in the SMSC's queue too, where it honours it.
                            priority_flag=1 if message.priority == "urgent" else 0,
                        )
                except (Exception, TimeoutError) as error:  # noqa: BLE001
                    # smpp34 answers error statuses as results: an exception is the link.
                    bind.lost(f"submit failed: {error!r}")
                    log.warning(
                        "smpp submit unanswered",
                        provider=self.name,
                        delivery_id=str(message.delivery_id),
                        error=repr(error),
                    )
                    return None, "in doubt"
            answer, detail = smpp_status.submit_answer(response.command_status)
            if answer is SubmitAnswer.ACCEPTED:
                if not response.message_id:
                    return SubmitAnswer.TEMPORARY, "accepted without a message id"
                return answer, response.message_id
            if answer is not SubmitAnswer.SLOW_DOWN:
                return answer, detail
            metrics.THROTTLED.labels(self.name).inc()
            if loop.time() + pause > give_up_at:
                return SubmitAnswer.TEMPORARY, f"{detail} for {self.config.slow_down_for_seconds} s"
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 2.0)

    # -- what the SMSC sends us -----------------------------------------------------------

    def incoming(self, event: smpp34.DeliverSmEvent) -> None:
        """A deliver_sm: a delivery receipt or a member's message. smpp34 has answered it
        already; recording happens in a task so the link keeps being read."""
        if smpp_status.is_receipt(event.esm_class):
            receipt = smpp_status.parse_receipt(
                event.short_message, {t.tag: t.value for t in event.tlvs}
            )
            if receipt is None:
                log.warning("smpp receipt without a message id", provider=self.name)
                return
            self._record(
                self._report(
                    DeliveryReport(
                        outcome=receipt.outcome,
                        provider_message_id=receipt.message_id,
                        detail=receipt.detail,
                    )
                )
            )
            return
        text = sms_encoding.decode(event.data_coding, event.esm_class, event.short_message)
        self._record(self._reply(InboundReply(sender=event.source_addr, text=text)))

    def _record(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, report: DeliveryReport) -> None:
        assert self._sink is not None
        async with self._recording:
            await _persistently(self._sink.reports, self.name, [report])

    async def _reply(self, reply: InboundReply) -> None:
        assert self._sink is not None
        async with self._recording:
            await _persistently(self._sink.replies, self.name, [reply])


async def _persistently(
    call: Callable[[str, list[Item]], Awaitable[None]], provider: str, items: list[Item]
) -> None:
    """The SMSC has its answer already (smpp34 acknowledges every deliver_sm itself), so a
    report not recorded is retried here, every two seconds at most, for as long as a
    database restart takes, rather than dropped."""
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + REPORT_RETRY_SECONDS
    pause = 0.2
    while True:
        try:
            await call(provider, items)
            return
        except Exception as error:  # noqa: BLE001
            if loop.time() > give_up_at:
                log.error("smpp report dropped after retries", provider=provider,
                          error=repr(error))  # fmt: skip
                return
            log.warning("smpp report not recorded yet", provider=provider, error=repr(error))
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


def _destination(address: str) -> str:
    # E.164 without the plus, as TON 1 (international) / NPI 1 (E.164) expects.
    return address.removeprefix("+")
