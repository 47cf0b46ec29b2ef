"""Composition root of the digest service."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI
from pydantic import Field

from services.digest import repository
from services.digest.compiler import DigestCompiler
from services.digest.domain.calendar import (
    BRUSSELS,
    DigestCalendar,
    is_belgian_public_holiday,
    no_holidays,
)
from services.digest.http import router
from services.digest.scheduler import DigestScheduler
from shared import topology as topo
from shared.events import BinRegistered, BinStatusChanged, PoliceNewsPublished
from shared.messaging import inbox
from shared.runtime import ServiceRuntime, main
from shared.settings import ServiceSettings

BinEvent = Annotated[BinRegistered | BinStatusChanged, Field(discriminator="type")]


class DigestSettings(ServiceSettings):
    http_port: int = 8004
    # Weekdays at this local time (Europe/Brussels, summer and winter time alike).
    digest_time: time = time(7, 0)
    digest_holidays: Literal["belgium", "none"] = "belgium"
    digest_max_items: int = Field(default=10, ge=1, le=100)
    # Whether a BIN with no news that day still gets a (short) digest.
    digest_send_empty: bool = False
    # Off in tests that drive the compiler themselves.
    digest_scheduler: bool = True


def build(settings: DigestSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or DigestSettings()
    runtime = ServiceRuntime(
        name="digest",
        settings=settings,
        queues=(topo.DIGEST_NEWS, topo.DIGEST_REGISTRY),
        sql_dir=Path(__file__).parent / "sql",
    )
    calendar = DigestCalendar(
        settings.digest_time,
        BRUSSELS,
        is_belgian_public_holiday if settings.digest_holidays == "belgium" else no_holidays,
    )
    compiler = DigestCompiler(
        runtime, calendar, settings.digest_max_items, settings.digest_send_empty
    )
    if settings.digest_scheduler:
        scheduler = DigestScheduler(compiler)
        runtime.on_start.append(scheduler.start)
        runtime.on_stop.append(scheduler.stop)

    @runtime.subscriber(topo.DIGEST_NEWS, title="digest.news")
    async def on_police_news(event: PoliceNewsPublished) -> None:
        """Collects a publishable police news item for the next digest of its zone."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            if await inbox.claim(conn, topo.DIGEST_NEWS.name, event.id):
                await repository.collect(conn, event.data)

    @runtime.subscriber(topo.DIGEST_REGISTRY, title="digest.registry")
    async def on_bin_event(event: BinEvent) -> None:
        """Keeps the digest's own list of BINs: zone, kind, languages, and whether active."""
        async with runtime.pool.acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, topo.DIGEST_REGISTRY.name, event.id):
                return
            match event:
                case BinRegistered():
                    await repository.project_bin(conn, event.data)
                case BinStatusChanged():
                    await repository.project_status(conn, event.data)

    app = runtime.http_app([router])
    app.state.compiler = compiler
    return runtime, app


def run() -> None:
    main(build)
