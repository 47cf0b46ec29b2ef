"""Composition root of the registry service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.registry import handlers, problems
from services.registry.api import bins, charter, members, roles, sanctions
from shared import topology as topo
from shared.runtime import ServiceRuntime, main
from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    http_port: int = 8001


def build(settings: RegistrySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(
        name="registry",
        settings=settings or RegistrySettings(),
        queues=(topo.REGISTRY_MEMBER_REPLIES,),
        sql_dir=Path(__file__).parent / "sql",
    )
    handlers.register(runtime)
    app = runtime.http_app(
        [bins.router, charter.router, members.router, sanctions.router, roles.router]
    )
    problems.install(app)
    return runtime, app


def run() -> None:
    main(build)
