"""An alert's delivery progress as the console shows it, from dispatch's progress answer,
and when to stop following it. Pure: no IO."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Finality:
    """Whether the fan-out is over. Dispatch says ``complete`` when nothing is pending, but it
    records the fan-out before writing its deliveries (and writes them in batches), so
    "complete" with 0 or a partial count can show up while it is still planning. Hence: the
    same complete snapshot on ``settle`` polls in a row, and an empty fan-out (a BIN without
    members reachable) only after ``settle_empty`` polls."""

    settle: int = 2
    settle_empty: int = 10
    _last: tuple[int, int, int] | None = None
    _repeats: int = 0

    def final(self, progress: dict[str, Any] | None) -> bool:
        if progress is None or not progress.get("complete"):
            self._last, self._repeats = None, 0
            return False
        snapshot = (int(progress["targeted"]), int(progress["delivered"]), int(progress["failed"]))
        self._repeats = self._repeats + 1 if snapshot == self._last else 1
        self._last = snapshot
        return self._repeats >= (self.settle if snapshot[0] > 0 else self.settle_empty)
