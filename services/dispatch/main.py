"""Composition root of the dispatch service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from services.dispatch import costs, evaluation, rate_limit
from services.dispatch.domain.retry import DeliveryRetryPolicy
from services.dispatch.engine import FanoutEngine
from services.dispatch.handlers import DispatchDeps, register
from services.dispatch.http import router
from services.dispatch.progress import ProgressAnnouncer, read_progress, shared_progress
from services.dispatch.reach import router as reach_router
from services.dispatch.retention import DeliveryRetention
from services.dispatch.sweeper import Sweeper
from shared import request_limits
from shared import topology as topo
from shared.runtime import ServiceRuntime, main
from shared.safeguards import DEVELOPMENT_LINK_SECRET, link_secret_values
from shared.settings import HttpApiSettings
from shared.signing import sign_member_token


class DispatchSettings(HttpApiSettings):
    http_port: int = 8003
    # Its API only answers questions (progress, reach, costs): no request needs a large body.
    max_body_bytes: int = 64 * 1024
    # The sweeper looks for stuck deliveries among those created (or released from a hold)
    # this recently; older ones are left to an operator.
    sweep_horizon_hours: float = Field(default=168.0, gt=0)
    # Deliveries per gateway message: per-recipient messages cannot reach thousands a second.
    batch_size: int = Field(default=1000, ge=1, le=5000)
    # E-mail work carries long texts (digests): smaller batches keep messages small.
    bulk_batch_size: int = Field(default=100, ge=1, le=5000)
    batches_in_flight: int = Field(default=16, ge=1, le=256)
    # Messages per second each channel's gateway accepts, across all replicas together,
    # e.g. BIN_GATEWAY_RATE_LIMITS='{"sms": 100}'. A channel not named has no limit.
    gateway_rate_limits: dict[str, float] = Field(default_factory=dict)
    # Members' signed links to their preferences page (the page is the registry's).
    preferences_base_url: str = "http://127.0.0.1:8001/preferences"
    link_secret: str = DEVELOPMENT_LINK_SECRET
    link_ttl_days: int = Field(default=30, ge=1, le=365)
    # What one message costs the municipality, for the monthly cost report.
    sms_price_eur: float = Field(default=0.06, ge=0)
    voice_price_eur: float = Field(default=0.12, ge=0)
    # How long delivery details are kept; their figures are folded into aggregates kept
    # forever before they go (BIN_RETENTION_DELIVERY_DAYS).
    retention_delivery_days: int = Field(default=365, ge=1)
    # BIN_FANOUT_SLICES: a new fan-out cut this many ways by member, the slices published as
    # work every replica takes; 1: the replica that consumes the event does it all.
    fanout_slices: int = Field(default=1, ge=1, le=256)
    # How long a slice's message waits for another session's lock on the slice before it is
    # retried through the delay queues: longer than a slice takes (seconds for 100,000
    # members), so a live holder finishes first.
    slice_lock_wait_seconds: float = Field(default=120.0, gt=0, le=3600)
    # How old the progress the HTTP API answers with may be: one count per fan-out in that
    # time, however many poll it (services/dispatch/progress.py); 0: a count per request.
    progress_max_age_seconds: float = Field(default=1.0, ge=0, le=60)


def build(settings: DispatchSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or DispatchSettings()
    runtime = ServiceRuntime(
        name="dispatch",
        settings=settings,
        # Dispatch also declares the gateway queues it feeds, so no work is published into
        # nowhere while a gateway is not connected yet.
        queues=(
            topo.DISPATCH_REGISTRY,
            topo.DISPATCH_ALERTS,
            topo.DISPATCH_BULK,
            topo.DISPATCH_RECEIPTS,
            topo.DISPATCH_REDELIVERIES,
            *topo.GATEWAY_QUEUES,
            *(topo.DISPATCH_SLICE_QUEUES if settings.fanout_slices > 1 else ()),
        ),
        sql_dir=Path(__file__).parent / "sql",
    )
    runtime.development_values += link_secret_values(settings.link_secret)
    engine = FanoutEngine(
        runtime,
        settings.batch_size,
        settings.bulk_batch_size,
        settings.batches_in_flight,
        rate_limited=bool(settings.gateway_rate_limits),
        preferences_url=lambda member_id: (
            f"{settings.preferences_base_url}/"
            f"{sign_member_token(settings.link_secret, member_id, settings.link_ttl_days * 86400)}"
        ),
    )

    async def configure_rate_limits(runtime: ServiceRuntime) -> None:
        async with runtime.pool.acquire() as conn:
            await rate_limit.configure(conn, settings.gateway_rate_limits)

    runtime.on_start.append(configure_rate_limits)
    # A delivery a gateway failed temporarily waits in the same delay levels as a failed
    # message (BIN_RETRY_DELAYS): one setting, and the delay queues' TTLs bound the jitter.
    # Well past the longest retry delay (and its queue's TTL), a delivery is stuck, not waiting.
    sweeper = Sweeper(
        runtime,
        engine,
        stuck_after=2 * max(settings.retry_delays) + 60,
        horizon=timedelta(hours=settings.sweep_horizon_hours),
    )
    sweeper.job.attach(runtime)
    progress = ProgressAnnouncer(runtime)
    runtime.on_start.append(progress.start)
    runtime.on_stop.append(progress.stop)
    register(
        runtime,
        DispatchDeps(
            runtime,
            engine,
            DeliveryRetryPolicy(settings.retry_delays),
            progress,
            fanout_slices=settings.fanout_slices,
            slice_lock_wait_seconds=settings.slice_lock_wait_seconds,
        ),
    )
    prices = {"sms": settings.sms_price_eur, "voice": settings.voice_price_eur}
    costs.cost_metrics_job(runtime, prices).attach(runtime)
    retention = DeliveryRetention(runtime, settings.retention_delivery_days)
    retention.job.attach(runtime)
    app = runtime.http_app([router, reach_router, costs.router, evaluation.router])
    request_limits.install(app, settings)
    app.state.retention = retention
    app.state.engine = engine
    app.state.sweeper = sweeper
    app.state.prices = prices
    app.state.progress = shared_progress(read_progress(runtime), settings.progress_max_age_seconds)
    return runtime, app


def run() -> None:
    main(build)
