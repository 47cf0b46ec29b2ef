"""Composition root of the intake service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake.http import router
from shared.runtime import ServiceRuntime, main
from shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    http_port: int = 8002
    # Where operators follow an alert's delivery progress (dispatch's HTTP API).
    dispatch_url: str = "http://127.0.0.1:8003"


def build(settings: IntakeSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        name="intake", settings=settings, sql_dir=Path(__file__).parent / "sql"
    )
    app = runtime.http_app([router])
    app.state.dispatch_url = settings.dispatch_url
    return runtime, app


def run() -> None:
    main(build)
