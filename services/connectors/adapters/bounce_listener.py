"""The SMTP server that takes bounces (DSNs) for the VERP return paths of one provider.

It runs in the service's own event loop (no thread), so the report sink is awaited where the
rest of the connector lives, and a DSN is answered 250 only once its reports are recorded:
451 otherwise, and the sending MTA tries again later. It accepts mail for
``<local_part>+<32 hex>@<domain>`` only, so it relays nothing for anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.connectors.domain.email_outcomes import delivery_from_return_path, read_bounce
from services.connectors.ports import DeliveryReport, ReportSink
from shared.logging import get_logger

log = get_logger(__name__)

# A DSN carries the returned message (or its headers, as we ask with RET=HDRS): 10 MiB is
# more than any bounce of our mail needs, and bounds what a stranger can make us read.
DATA_SIZE_LIMIT = 10 * 1024 * 1024


@dataclass
class BounceStats:
    """Counts of what came in, for tests and metrics (never who it was about)."""

    reports: int = 0  # per-recipient reports handed to the sink
    ignored: int = 0  # mail that was no delivery status report (auto-replies, spam)
    unmatched: int = 0  # report parts that named no delivery of ours
    sink_failures: int = 0  # DSNs answered 451 because the sink raised
    refused_recipients: int = 0  # RCPT TO outside our bounce addresses


class _Handler:
    def __init__(self, listener: BounceListener) -> None:
        self._listener = listener

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        listener = self._listener
        ours = delivery_from_return_path(
            address, local_part=listener.local_part, domain=listener.domain
        )
        if ours is None:
            listener.stats.refused_recipients += 1
            return "550 5.1.1 Not a bounce address here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        return await self._listener.take(envelope.original_content or b"", envelope.rcpt_tos)


class BounceListener:
    """Listens on ``host:port`` (port 0: any free one, see :attr:`port`) until stopped."""

    def __init__(
        self,
        *,
        provider: str,
        sink: ReportSink,
        local_part: str,
        domain: str,
        host: str,
        port: int,
        hostname: str | None = None,
        timeout_seconds: float = 300,
    ) -> None:
        self.provider = provider
        self.local_part = local_part
        self.domain = domain
        self.stats = BounceStats()
        self._sink = sink
        self._host = host
        self._port = port
        self._hostname = hostname or domain
        self._timeout = timeout_seconds
        self._server: asyncio.Server | None = None
        # Weak: a session the peer has closed is forgotten with its transport.
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        handler = _Handler(self)

        def session() -> SMTP:
            smtp = SMTP(
                handler,
                hostname=self._hostname,
                ident="BIN bounce listener",
                data_size_limit=DATA_SIZE_LIMIT,
                enable_SMTPUTF8=True,
                timeout=self._timeout,
                loop=loop,
            )
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(session, self._host, self._port)
        log.info("bounce listener started", provider=self.provider, port=self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        # Python 3.11's wait_closed does not wait for open sessions: close them, or a sending
        # MTA holding a connection keeps this listener's handlers alive past the service.
        for smtp in list(self._sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        self._sessions.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._server.wait_closed()
        self._server = None

    async def take(self, message: bytes, recipients: list[str]) -> str:
        """Reads one mail to a bounce address and answers the SMTP reply for its DATA."""
        bounce = read_bounce(message, recipients)
        self.stats.unmatched += bounce.unmatched
        if not bounce.is_report:
            self.stats.ignored += 1
            log.info("non-report mail to the bounce address ignored", provider=self.provider)
            return "250 2.0.0 OK, ignored"
        if not bounce.reports:
            log.info("delivery report naming no delivery ignored", provider=self.provider)
            return "250 2.0.0 OK, no delivery of ours"
        try:
            await self._sink.reports(self.provider, bounce.reports)
        except Exception as error:  # noqa: BLE001 (any sink failure: the sending MTA retries)
            self.stats.sink_failures += 1
            log.warning(
                "bounce not recorded, asking the sender to retry",
                provider=self.provider,
                deliveries=_ids(bounce.reports),
                error=type(error).__name__,
            )
            return "451 4.3.0 Not recorded, try again later"
        self.stats.reports += len(bounce.reports)
        log.info("bounce recorded", provider=self.provider, deliveries=_ids(bounce.reports))
        return "250 2.0.0 OK, recorded"


def _ids(reports: Sequence[DeliveryReport]) -> list[str]:
    return [str(report.delivery_id) for report in reports]
