"""An alert's delivery progress as the console shows it, from dispatch's progress answer,
and when to stop following it. Pure: no IO."""

from __future__ import annotations

from typing import Any

CHANNEL_COUNTS = ("targeted", "sent", "delivered", "failed")


def view(progress: dict[str, Any] | None) -> dict[str, Any]:
    """The numbers the page fills in (its ``data-field`` paths). ``None``: dispatch does not
    know the alert yet (the event is still on its way)."""
    if progress is None:
        return {"known": False, "targeted": 0, "finished": 0, "percent": 0, "channels": {}}
    targeted = int(progress["targeted"])
    finished = int(progress["delivered"]) + int(progress["failed"])
    return {
        "known": True,
        "targeted": targeted,
        "delivered": int(progress["delivered"]),
        "failed": int(progress["failed"]),
        "pending": int(progress["pending"]),
        "finished": finished,
        "percent": round(100 * finished / targeted) if targeted else 0,
        "channels": {
            channel: {name: int(counts.get(name, 0)) for name in CHANNEL_COUNTS}
            for channel, counts in progress.get("channels", {}).items()
        },
    }


def final(progress: dict[str, Any] | None) -> bool:
    """Dispatch says ``complete`` once the fan-out has targeted every member (it is no longer
    planning) and every delivery is final."""
    return progress is not None and bool(progress.get("complete"))
