"""Composition root of the registry service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.registry import console, handlers, problems
from services.registry.api import bins, charter, evaluation, members, roles, sanctions
from services.registry.evaluation_parts import EvaluationParts, PartUnavailable, part_unavailable
from shared import topology as topo
from shared import web
from shared.runtime import ServiceRuntime, main
from shared.safeguards import DEVELOPMENT_LINK_SECRET, link_secret_values, secure_cookie_values
from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    http_port: int = 8001
    # Where the yearly evaluation report fetches intake's part (BIN_INTAKE_URL).
    intake_url: str = "http://127.0.0.1:8002"
    # The coordinator pages show dispatch's cost report, and the yearly evaluation report
    # fetches dispatch's part (BIN_DISPATCH_URL).
    dispatch_url: str = "http://127.0.0.1:8003"
    # Members' preferences links are signed by dispatch: the same variable, BIN_LINK_SECRET.
    link_secret: str = DEVELOPMENT_LINK_SECRET
    # The VAPID public key members' browsers subscribe with (BIN_PUSH_VAPID_PUBLIC_KEY), the
    # public half of the push connector's key; unset: the page offers no push.
    push_vapid_public_key: str | None = None


def build(settings: RegistrySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or RegistrySettings()
    runtime = ServiceRuntime(
        name="registry",
        settings=settings,
        queues=(topo.REGISTRY_MEMBER_REPLIES, topo.REGISTRY_PUSH_SUBSCRIPTIONS),
        sql_dir=Path(__file__).parent / "sql",
    )
    runtime.development_values += link_secret_values(settings.link_secret)
    runtime.development_values += secure_cookie_values(web.ConsoleSettings().secure_cookie)
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
    console.install(
        app,
        console.PageSettings(
            settings.dispatch_url, settings.link_secret, settings.push_vapid_public_key
        ),
    )
    return runtime, app


def run() -> None:
    main(build)
