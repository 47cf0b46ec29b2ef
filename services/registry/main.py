"""Composition root of the registry service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.registry import console, handlers, problems
from services.registry.api import bins, charter, evaluation, members, roles, sanctions
from services.registry.evaluation_parts import EvaluationParts, PartUnavailable, part_unavailable
from shared import topology as topo
from shared.runtime import ServiceRuntime, main
from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    http_port: int = 8001
    # Where the yearly evaluation report fetches intake's part (BIN_INTAKE_URL).
    intake_url: str = "http://127.0.0.1:8002"
    # The coordinator pages show dispatch's cost report, and the yearly evaluation report
    # fetches dispatch's part (BIN_DISPATCH_URL).
    dispatch_url: str = "http://127.0.0.1:8003"
    # Members' preferences links are signed by dispatch: the same variable, BIN_LINK_SECRET.
    link_secret: str = "development-only-link-secret-change-me"  # noqa: S105


def build(settings: RegistrySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or RegistrySettings()
    runtime = ServiceRuntime(
        name="registry",
        settings=settings,
        queues=(topo.REGISTRY_MEMBER_REPLIES,),
        sql_dir=Path(__file__).parent / "sql",
    )
    handlers.register(runtime)
    app = runtime.http_app(
        [
            bins.router,
            charter.router,
            members.router,
            sanctions.router,
            roles.router,
            evaluation.router,
        ]
    )
    problems.install(app)
    parts = EvaluationParts({"intake": settings.intake_url, "dispatch": settings.dispatch_url})
    runtime.on_start.append(parts.start)
    runtime.on_stop.append(parts.stop)
    app.state.evaluation_parts = parts
    app.add_exception_handler(PartUnavailable, part_unavailable)
    console.install(app, console.PageSettings(settings.dispatch_url, settings.link_secret))
    return runtime, app


def run() -> None:
    main(build)
