"""Composition root of the intake service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from services.intake import console, evaluation, handlers, problems
from services.intake.api import alerts, audit, bins, notices, reports
from services.intake.domain.rate_limit import RateLimiter
from services.intake.limits import InputLimits
from services.intake.retention import RetentionJob, RetentionPolicy
from shared import topology as topo
from shared.runtime import ServiceRuntime, main
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    http_port: int = 8002
    # Where operators follow an alert's delivery progress (dispatch's HTTP API).
    dispatch_url: str = "http://127.0.0.1:8003"
    # CAP: who sends (a stable id of this installation) and the name shown.
    cap_sender: str = "bin-platform@politie.be"
    cap_sender_name: str = "Politiezone"
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Per caller (bearer token): sustained requests per second, and the burst allowed.
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # How long members' replies and alert texts are kept (then purged by an hourly job).
    retention_replies_days: int = Field(default=30, ge=1)
    retention_alert_texts_days: int = Field(default=365, ge=1)
    # Reports' facts, descriptions and house numbers, evaluations' reasons, police news'
    # place and text (BIN_RETENTION_REPORTS_DAYS).
    retention_reports_days: int = Field(default=365, ge=1)


def build(settings: IntakeSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        name="intake",
        settings=settings,
        queues=(topo.INTAKE_REGISTRY, topo.INTAKE_REPLIES),
        sql_dir=Path(__file__).parent / "sql",
    )
    handlers.register(runtime)
    retention = RetentionJob(
        runtime,
        RetentionPolicy(
            settings.retention_replies_days,
            settings.retention_alert_texts_days,
            settings.retention_reports_days,
        ),
    )
    retention.job.attach(runtime)
    app = runtime.http_app(
        [
            reports.router,
            alerts.router,
            notices.router,
            bins.router,
            audit.router,
            evaluation.router,
        ]
    )
    problems.install(app)
    console.install(app)
    app.add_middleware(
        InputLimits,
        max_body_bytes=settings.max_body_bytes,
        limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
    )
    app.state.dispatch_url = settings.dispatch_url
    app.state.settings = settings
    app.state.retention = retention
    return runtime, app


def run() -> None:
    main(build)
