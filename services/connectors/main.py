"""Composition root of the connectors service: settings, ledger, providers, subscribers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.connectors import router as routing
from services.connectors.adapters.kannel import KannelConfig, KannelProvider
from services.connectors.adapters.kannel_http import kannel_router
from services.connectors.adapters.smpp import SmppConfig, SmppProvider
from services.connectors.adapters.smtp import SmtpConfig, SmtpProvider
from services.connectors.adapters.voice import SipTrunkConfig, SipVoiceProvider
from services.connectors.adapters.webpush import WebPushConfig, WebPushProvider
from services.connectors.config import ProviderConfig
from services.connectors.handlers import ConnectorDeps, finish_sending, register
from services.connectors.lease import Lease
from services.connectors.ports import Provider
from services.connectors.reports import LedgerSink
from services.connectors.router import ChannelRouter, ProviderSlot
from services.connectors.settings import DEVELOPMENT_ADDRESS_SECRET, ConnectorSettings
from services.connectors.sweeper import Sweeper
from services.connectors.trunk_channels import TrunkChannels
from shared import topology as topo
from shared.runtime import ServiceRuntime, main
from shared.safeguards import secret_values


def build_provider(config: ProviderConfig, sink: LedgerSink) -> tuple[Provider, list[APIRouter]]:
    """The adapter for a provider's kind, and the HTTP routes it needs (callbacks)."""
    if isinstance(config, SmppConfig):
        return SmppProvider(config), []
    if isinstance(config, KannelConfig):
        return KannelProvider(config), [kannel_router(sink, config.name)]
    if isinstance(config, SmtpConfig):
        return SmtpProvider(config), []
    if isinstance(config, WebPushConfig):
        return WebPushProvider(config), []
    if isinstance(config, SipTrunkConfig):
        return SipVoiceProvider(config), []
    raise ValueError(f"no adapter for provider kind of {config.name}")


def build(settings: ConnectorSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or ConnectorSettings()
    channels = sorted({p.channel for p in settings.connector_providers})
    runtime = ServiceRuntime(
        name="connectors",
        settings=settings,
        queues=(
            *(topo.gateway_queue(c, p) for c in channels for p in topo.PRIORITIES),
            topo.DISPATCH_RECEIPTS,
        ),
        sql_dir=Path(__file__).parent / "sql",
    )
    secret_text = settings.connector_address_secret.get_secret_value()
    runtime.development_values += secret_values(
        "BIN_CONNECTOR_ADDRESS_SECRET", secret_text, DEVELOPMENT_ADDRESS_SECRET
    )
    secret = secret_text.encode()
    sink = LedgerSink(runtime, secret, timedelta(days=settings.connector_reply_window_days))
    slots: dict[str, list[ProviderSlot]] = {}
    routes: list[APIRouter] = []
    providers: list[Provider] = []
    for config in sorted(settings.connector_providers, key=lambda p: (p.channel, p.order)):
        provider, provider_routes = build_provider(config, sink)
        providers.append(provider)
        routes += provider_routes
        cost = getattr(provider, "cost", lambda _: 1)
        slots.setdefault(config.channel, []).append(ProviderSlot(provider, config, None, cost=cost))
    router = ChannelRouter(slots)
    lease = Lease(settings.database_url)
    deps = ConnectorDeps(
        runtime, router, lease, secret, record_for=settings.connector_record_for_seconds
    )
    register(runtime, deps)

    async def start(rt: ServiceRuntime) -> None:
        await lease.start()
        async with rt.pool.acquire() as conn:
            await routing.PROVIDER_RATES.configure(
                conn,
                {
                    p.name: p.rate_per_second
                    for p in settings.connector_providers
                    if p.rate_per_second is not None
                },
                burst_seconds=0.1,
            )
        for slot in router.all_slots():
            slot.pool = rt.pool
        for provider in providers:
            if isinstance(provider, SipVoiceProvider):
                await provider.share_channels(
                    TrunkChannels(rt.pool, lease, provider.name, provider.config.channels)
                )
            await provider.start(sink)

    async def stop(rt: ServiceRuntime) -> None:
        await finish_sending(deps, rt.settings.graceful_timeout)
        for provider in providers:
            await provider.stop()
        await lease.stop()

    runtime.on_start.append(start)
    runtime.on_stop.append(stop)
    Sweeper(
        runtime,
        settings.connector_providers,
        settings.connector_sweep_interval,
        timedelta(seconds=settings.connector_stranded_after_seconds),
        timedelta(days=settings.connector_retention_days),
    ).job.attach(runtime)
    return runtime, runtime.http_app(routes)


def run() -> None:
    main(build)
