"""The operators' web console: server-rendered pages over intake's own data; every action
goes to intake's JSON API (same validation, audit and errors) through the shared console
script. Wired into the app by :func:`install` from the composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from services.intake.console import (
    alerts,
    approvals,
    audit,
    feedback,
    formatting,
    live,
    notices,
    preview,
    reports,
)
from shared.web import Console, NavItem

NAV = (
    NavItem("/console/reports", "nav_reports"),
    NavItem("/console/alerts", "nav_alerts"),
    NavItem("/console/notices", "nav_notices"),
    NavItem("/console/feedback", "nav_feedback"),
    NavItem("/console/audit", "nav_audit"),
)


def install(app: FastAPI) -> Console:
    console = Console(Path(__file__).parents[1], title="console_title", nav=NAV)
    formatting.register(console.templates.env)
    console.install(app)
    app.state.console = console

    @app.get("/console", include_in_schema=False)
    async def start() -> RedirectResponse:
        return RedirectResponse("/console/reports", status_code=303)

    for module in (reports, alerts, approvals, live, preview, notices, feedback, audit):
        app.include_router(module.router)
    return console
