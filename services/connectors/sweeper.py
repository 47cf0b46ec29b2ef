"""Ends what no provider report ends, every few seconds:

* reports kept because they came before their message id was recorded, matched now;
* accepted deliveries with no report within their provider's report timeout: delivered;
* deliveries claimed by a replica that died and whose batch never came back: answered as
  temporary failures, so dispatch's retry sends them again;
* finished deliveries past the retention: forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from services.connectors import ledger
from services.connectors.config import ProviderConfig
from services.connectors.ledger import Receipt
from services.connectors.receipts import enqueue_receipts
from services.connectors.reports import observe
from shared.periodic import PeriodicJob
from shared.runtime import ServiceRuntime


class Sweeper:
    def __init__(
        self,
        runtime: ServiceRuntime,
        providers: Sequence[ProviderConfig],
        interval: float,
        stranded_after: timedelta,
        retention: timedelta,
    ) -> None:
        self.runtime = runtime
        self.providers = providers
        self.stranded_after = stranded_after
        self.retention = retention
        self.job = PeriodicJob(
            "connector sweep", interval, self.sweep_once, first_run_after=interval
        )

    async def sweep_once(self) -> int:
        """Returns how many deliveries it ended."""
        ended: list[Receipt] = []
        async with self.runtime.pool.acquire() as conn:
            async with conn.transaction():
                receipts = await ledger.match_early_reports(conn)
                await enqueue_receipts(self.runtime, conn, receipts)
            ended += receipts
            for provider in self.providers:
                async with conn.transaction():
                    receipts = await ledger.time_out_accepted(
                        conn, provider.name, timedelta(seconds=provider.report_timeout_seconds)
                    )
                    await enqueue_receipts(self.runtime, conn, receipts)
                ended += receipts
            async with conn.transaction():
                receipts = await ledger.release_stranded(conn, self.stranded_after)
                await enqueue_receipts(self.runtime, conn, receipts)
            ended += receipts
            async with conn.transaction():
                await ledger.forget_old(conn, self.retention)
        observe(ended)
        return len(ended)
