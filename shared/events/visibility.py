from __future__ import annotations

from enum import StrEnum


class Visibility(StrEnum):
    """Who may read an event: anyone subscribed (public) or only our own services (private)."""

    PUBLIC = "public"
    PRIVATE = "private"
    GATEWAY = "gateway"
