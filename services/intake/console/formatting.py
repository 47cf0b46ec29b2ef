"""Template helpers: times as Brussels reads them, and query strings for paging links."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

from jinja2 import Environment

from shared.working_days import BRUSSELS


def local_time(moment: datetime | date | None) -> str:
    if moment is None:
        return "\u2013"  # an en dash: no time
    if isinstance(moment, datetime):
        return moment.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")
    return moment.isoformat()


def query(**params: object) -> str:
    """``?a=1&b=2`` of the parameters that have a value."""
    kept = {k: v for k, v in params.items() if v not in (None, "", False)}
    return "?" + urlencode(kept, doseq=True) if kept else ""


def register(environment: Environment) -> None:
    environment.filters["local"] = local_time
    environment.globals["query"] = query
