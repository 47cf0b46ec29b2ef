"""Builds the registry's two consoles and mounts their pages on the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Request

from shared.callers import LinkFailureLimit
from shared.web import Console, NavItem

SERVICE_DIR = Path(__file__).resolve().parents[1]
# The database keeps UTC; people read Belgian time.
BRUSSELS = ZoneInfo("Europe/Brussels")


def local_time(moment: datetime) -> str:
    return moment.astimezone(BRUSSELS).strftime("%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class PageSettings:
    # Where dispatch answers (its monthly cost report); BIN_DISPATCH_URL.
    dispatch_url: str
    # The secret dispatch signs members' links with; BIN_LINK_SECRET, the same variable.
    link_secret: str
    # The VAPID public key the preferences page subscribes with; None: no push offered.
    push_vapid_public_key: str | None = None
    # Links that do not verify, per sender address, before the page answers 429.
    failed_links: LinkFailureLimit = field(default_factory=LinkFailureLimit)


@dataclass(frozen=True)
class Pages:
    coordinators: Console
    # The members' page: its own title and no navigation, same templates and texts.
    members: Console
    settings: PageSettings


def install(app: FastAPI, settings: PageSettings) -> None:
    from services.registry.console import bins, imports, members, preferences

    coordinators = Console(SERVICE_DIR, "console_title", nav=[NavItem("/console", "nav_bins")])
    coordinators.templates.env.filters["local_time"] = local_time
    app.state.pages = Pages(coordinators, Console(SERVICE_DIR, "preferences_title"), settings)
    coordinators.install(app)
    for module in (bins, members, imports, preferences):
        app.include_router(module.router)


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


PagesDep = Annotated[Pages, Depends(_pages)]
