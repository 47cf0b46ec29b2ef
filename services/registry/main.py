"""Composition root of the registry service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from services.registry import console, handlers, problems
from services.registry.api import bins, charter, evaluation, members, roles, sanctions
from services.registry.evaluation_parts import EvaluationParts, PartUnavailable, part_unavailable
from shared import request_limits, web
from shared import topology as topo
from shared.callers import LinkFailureLimit
from shared.runtime import ServiceRuntime, main
from shared.safeguards import DEVELOPMENT_LINK_SECRET, link_secret_values, secure_cookie_values
from shared.settings import HttpApiSettings


class RegistrySettings(HttpApiSettings):
    http_port: int = 8001
    # A member CSV import may be up to 50 MiB (services/registry/api/members.py).
    max_body_bytes: int = 51 * 1024 * 1024
    # Preferences links that do not verify (not signed by us: guessed, forged, cut off), per
    # sender address: this many at once, then one every 1 / per-second seconds; 429 beyond.
    preferences_failed_links_per_second: float = Field(default=0.1, gt=0)
    preferences_failed_links_burst: int = Field(default=10, ge=1)
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
    request_limits.install(app, settings)
    parts = EvaluationParts({"intake": settings.intake_url, "dispatch": settings.dispatch_url})
    runtime.on_start.append(parts.start)
    runtime.on_stop.append(parts.stop)
    app.state.evaluation_parts = parts
    app.add_exception_handler(PartUnavailable, part_unavailable)
    console.install(
        app,
        console.PageSettings(
            settings.dispatch_url,
            settings.link_secret,
            settings.push_vapid_public_key,
            LinkFailureLimit(
                settings.preferences_failed_links_per_second,
                settings.preferences_failed_links_burst,
            ),
        ),
    )
    return runtime, app


def run() -> None:
    main(build)
