"""The ledger as the adapters' :class:`~services.connectors.ports.ReportSink`.

Delivery reports arrive one by one (an SMSC sends a DLR per part, Kannel calls back per
message) at up to thousands a second: they are gathered for a few milliseconds and recorded
in one transaction, receipts into the outbox with them; every caller returns once its
report is committed, so an adapter acknowledges upstream only what is durable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from services.connectors import ledger, metrics
from services.connectors.domain.address_key import address_key
from services.connectors.ledger import Receipt
from services.connectors.ports import DeliveryReport, InboundReply
from services.connectors.receipts import enqueue_receipts, reply_event
from shared.coalesce import Coalescer, no_results
from shared.logging import get_logger
from shared.runtime import ServiceRuntime

log = get_logger(__name__)

MAX_REPLY = 1600  # the contract's MemberReply.text


class LedgerSink:
    def __init__(
        self,
        runtime: ServiceRuntime,
        address_secret: bytes,
        reply_window: timedelta,
        linger: float = 0.02,
        max_batch: int = 1000,
    ) -> None:
        self.runtime = runtime
        self.address_secret = address_secret
        self.reply_window = reply_window
        self._reports: Coalescer[tuple[str, Sequence[DeliveryReport]], None] = Coalescer(
            self._flush,
            name="report flush",
            linger=linger,
            max_weight=max_batch,
            weight=lambda item: len(item[1]),
        )

    async def reports(self, provider: str, reports: Sequence[DeliveryReport]) -> None:
        if reports:
            await self._reports.submit((provider, reports))

    async def _flush(self, batch: list[tuple[str, Sequence[DeliveryReport]]]) -> list[None]:
        try:
            receipts = await self._record(batch)
        except Exception as error:
            log.warning("reports not recorded", reports=sum(len(r) for _, r in batch),
                        error=repr(error))  # fmt: skip
            raise
        observe(receipts)
        return no_results(len(batch))

    async def _record(self, batch: list[tuple[str, Sequence[DeliveryReport]]]) -> list[Receipt]:
        by_provider: dict[str, list[DeliveryReport]] = {}
        for provider, reports in batch:
            by_provider.setdefault(provider, []).extend(reports)
        receipts: list[Receipt] = []
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            for provider, reports in by_provider.items():
                receipts += await ledger.apply_reports(conn, provider, reports)
            await enqueue_receipts(self.runtime, conn, receipts)
        for provider, reports in by_provider.items():
            for outcome, count in Counter(
                r.outcome.value if r.outcome else "intermediate" for r in reports
            ).items():
                metrics.REPORTS.labels(provider, outcome).inc(count)
        return receipts

    async def replies(self, provider: str, replies: Sequence[InboundReply]) -> None:
        keys = [address_key(self.address_secret, r.sender) for r in replies]
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            latest = await ledger.latest_deliveries(conn, keys, self.reply_window)
            matched = [
                (latest[key], reply.text[:MAX_REPLY], reply.received_at)
                for key, reply in zip(keys, replies, strict=True)
                if key in latest and reply.text.strip()
            ]
            if matched:
                await self.runtime.enqueue(conn, [reply_event("sms", matched)])
        metrics.REPLIES.labels(provider, "yes").inc(len(matched))
        if len(matched) < len(replies):
            metrics.REPLIES.labels(provider, "no").inc(len(replies) - len(matched))
            log.info("replies without a recent delivery", provider=provider,
                     count=len(replies) - len(matched))  # fmt: skip


def observe(receipts: Sequence[Receipt]) -> None:
    """Submit-to-report latency of the deliveries that just ended."""
    now = datetime.now(UTC)
    for receipt in receipts:
        if receipt.accepted_at is not None and receipt.provider is not None:
            metrics.REPORT_LATENCY.labels(receipt.provider).observe(
                (now - receipt.accepted_at).total_seconds()
            )
