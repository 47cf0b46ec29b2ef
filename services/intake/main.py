"""Composition root of the intake service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI
from pydantic import Field

from services.intake import console, evaluation, handlers, problems
from services.intake.api import alerts, audit, bins, notices, reports
from services.intake.domain.four_eyes import DEFAULT_ZONE, Policy
from services.intake.four_eyes import ReachClient
from services.intake.lapsed_holds import LapsedHolds
from services.intake.retention import RetentionJob, RetentionPolicy
from shared import request_limits, web
from shared import topology as topo
from shared.runtime import ServiceRuntime, main
from shared.safeguards import secure_cookie_values
from shared.settings import HttpApiSettings


class IntakeSettings(HttpApiSettings):
    http_port: int = 8002
    # Where operators follow an alert's delivery progress (dispatch's HTTP API).
    dispatch_url: str = "http://127.0.0.1:8003"
    # Where intake itself asks dispatch (the four-eyes member count), inside the cluster;
    # unset: BIN_DISPATCH_URL, the address operators follow progress at.
    dispatch_internal_url: str | None = None
    # CAP: who sends (a stable id of this installation) and the name shown.
    cap_sender: str = "bin-platform@politie.be"
    cap_sender_name: str = "Politiezone"
    # How long members' replies and alert texts are kept (then purged by an hourly job).
    retention_replies_days: int = Field(default=30, ge=1)
    retention_alert_texts_days: int = Field(default=365, ge=1)
    # Reports' facts, descriptions and house numbers, evaluations' reasons, police news'
    # place and text (BIN_RETENTION_REPORTS_DAYS).
    retention_reports_days: int = Field(default=365, ge=1)
    # Four eyes: members an alert may reach before a second operator of the zone must approve
    # it, per police zone ("default": the others; no entry and no default: no member limit).
    four_eyes_members: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {DEFAULT_ZONE: 500}
    )
    # How long intake waits for dispatch's count; unanswered, the alert is held.
    four_eyes_reach_timeout_seconds: float = Field(default=2.0, gt=0)
    # How long a held alert waits for its second operator before it is cancelled.
    four_eyes_max_hold_minutes: float = Field(default=60.0, gt=0)


def build(settings: IntakeSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        name="intake",
        settings=settings,
        queues=(topo.INTAKE_REGISTRY, topo.INTAKE_REPLIES),
        sql_dir=Path(__file__).parent / "sql",
    )
    runtime.development_values += secure_cookie_values(web.ConsoleSettings().secure_cookie)
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
    request_limits.install(app, settings)
    app.state.dispatch_url = settings.dispatch_url
    policy = Policy(
        settings.four_eyes_members, timedelta(minutes=settings.four_eyes_max_hold_minutes)
    )
    app.state.four_eyes = policy
    app.state.lapsed_holds = LapsedHolds(runtime, policy)
    app.state.lapsed_holds.job.attach(runtime)
    app.state.reach = ReachClient(
        settings.dispatch_internal_url or settings.dispatch_url,
        settings.four_eyes_reach_timeout_seconds,
    )
    app.state.settings = settings
    app.state.retention = retention
    return runtime, app


def run() -> None:
    main(build)
