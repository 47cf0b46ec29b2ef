"""Composition root of the gateway simulator."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
from faststream.message import StreamMessage
from pydantic import Field

from services.gateway_simulator.behaviour import GatewayBehaviour
from shared import topology as topo
from shared.coalesce import Coalescer, no_results
from shared.events import Channel, DeliveryReceipted, DeliveryReceiptedData, DeliveryRequested
from shared.events.gateway_codec import decode_requested
from shared.runtime import ServiceRuntime, main
from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    http_port: int = 8005
    gateway_latency_ms: float = Field(default=20.0, ge=0)
    gateway_temporary_failure_rate: float = Field(default=0.0, ge=0, le=1)
    gateway_permanent_failure_rate: float = Field(default=0.0, ge=0, le=1)
    gateway_seed: int | None = None
    gateway_max_temporary_failures: int | None = Field(default=None, ge=0)
    gateway_failing_channels: list[str] = Field(default_factory=list)
    # Channels that answer every delivery with a temporary failure (a gateway down for good).
    gateway_down_channels: list[str] = Field(default_factory=list)
    # The channels it stands in for; the others are left to the connectors service (for
    # example BIN_GATEWAY_CHANNELS='["voice", "push"]' when SMS and e-mail go out for real).
    gateway_channels: list[Channel] = Field(default_factory=lambda: list(Channel))
    # Receipts of work that arrived within this long go out in one message per channel, as
    # real gateways report (the connectors gather delivery reports the same way).
    gateway_receipt_linger_ms: float = Field(default=10.0, ge=0, le=1000)


RECEIPTS_PER_MESSAGE = 1000  # the contract allows 5,000


@dataclass(frozen=True)
class _Receipts:
    """One work message's receipts, waiting to be published with others'."""

    channel: Channel
    correlation_id: str | None
    receipts: list[dict[str, Any]]


def build(settings: GatewaySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or GatewaySettings()
    served = tuple(
        topo.gateway_queue(c.value, p) for c in settings.gateway_channels for p in topo.PRIORITIES
    )
    runtime = ServiceRuntime(
        name="gateway-simulator",
        settings=settings,
        queues=(*served, topo.DISPATCH_RECEIPTS),
        uses_database=False,
    )
    behaviour = GatewayBehaviour(
        settings.gateway_temporary_failure_rate,
        settings.gateway_permanent_failure_rate,
        settings.gateway_seed,
        settings.gateway_max_temporary_failures,
        settings.gateway_failing_channels,
        settings.gateway_down_channels,
    )
    sent: Counter[str] = Counter()
    # Deliveries by channel and language ("email:fr"), so tests see who got which text.
    languages: Counter[str] = Counter()
    # Per fan-out: when its first and last batch arrived (wall clock), for benchmarks.
    sources: dict[str, dict[str, float]] = {}

    async def deliver(work: DeliveryRequested) -> None:
        arrived = time.time()
        seen = sources.setdefault(
            str(work.data.source_id), {"first_batch_at": arrived, "deliveries": 0}
        )
        seen["last_batch_at"] = arrived
        seen["deliveries"] += len(work.data.deliveries)
        for language, count in Counter(w.language for w in work.data.deliveries).items():
            languages[f"{work.data.channel.value}:{language}"] += count
        if settings.gateway_latency_ms:
            await asyncio.sleep(settings.gateway_latency_ms / 1000)
        outcomes = behaviour.outcomes(work.data.deliveries, work.data.channel.value)
        sent[work.data.channel.value] += len(work.data.deliveries)
        at = datetime.now(UTC).isoformat()
        # Acked once its receipts are published: a simulator stopped in between answers the
        # work again when it comes back.
        await receipts.submit(
            _Receipts(
                work.data.channel,
                work.correlationid,
                [
                    {"delivery_id": key, "outcome": outcome, "at": at, "detail": detail}
                    for key, outcome, detail in outcomes
                ],
            )
        )

    async def publish_receipts(batch: list[_Receipts]) -> list[None]:
        by_channel: dict[Channel, list[dict[str, Any]]] = {}
        correlation: dict[Channel, str | None] = {}
        for item in batch:
            by_channel.setdefault(item.channel, []).extend(item.receipts)
            correlation.setdefault(item.channel, item.correlation_id)
        for channel, items in by_channel.items():
            for start in range(0, len(items), RECEIPTS_PER_MESSAGE):
                receipted = DeliveryReceipted.create(
                    source="gateway-simulator",
                    correlation_id=correlation[channel],
                    # Built without its receipts, which join the JSON below as plain dicts (a
                    # model per receipt cost a quarter of the simulator's CPU in a benchmark).
                    data=DeliveryReceiptedData.model_construct(
                        gateway=f"simulated-{channel.value}",
                        channel=channel,
                        receipts=[],
                        replies=[],
                    ),
                )
                body = receipted.model_dump(mode="json")
                body["data"]["receipts"] = items[start : start + RECEIPTS_PER_MESSAGE]
                await runtime.publisher.publish(receipted, body=orjson.dumps(body))
        return no_results(len(batch))

    receipts: Coalescer[_Receipts, None] = Coalescer(
        publish_receipts,
        name="receipts",
        linger=settings.gateway_receipt_linger_ms / 1000,
        max_weight=RECEIPTS_PER_MESSAGE,
        weight=lambda item: len(item.receipts),
    )

    for spec in served:
        # A thousand deliveries a message: decoded by msgspec, a fifth of pydantic's time.
        runtime.subscriber(spec, title=spec.name, decoder=_work)(deliver)

    stats = APIRouter(tags=["simulator"])

    @stats.get("/stats", summary="What the simulator was asked to send")
    async def get_stats() -> dict[str, object]:
        return {
            "sent": dict(sent),
            "unique": len(behaviour.seen),
            "duplicates": behaviour.duplicates,
            "languages": dict(languages),
        }

    @stats.get("/stats/delivery-ids", summary="Every delivery id the simulator finished")
    async def get_delivery_ids() -> list[str]:
        # For a checker that compares them with what dispatch recorded as handed over (the
        # cluster fault tests): counts alone would hide one lost id behind one unexpected.
        return [str(key) for key in behaviour.seen]

    @stats.get("/stats/sources/{source_id}", summary="When a fan-out's batches arrived")
    async def get_source(source_id: str) -> dict[str, float]:
        return sources.get(source_id, {})

    app = runtime.http_app([stats])
    app.state.behaviour = behaviour
    return runtime, app


async def _work(message: StreamMessage[Any]) -> DeliveryRequested:
    return decode_requested(message.body)


def run() -> None:
    main(build)
