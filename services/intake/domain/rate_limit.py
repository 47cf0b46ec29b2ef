"""A token bucket per caller: requests beyond the sustained rate (after a burst) get 429."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, caller: str) -> float:
        """0 when the request may go ahead; else the seconds to wait before trying again."""
        now = self.clock()
        tokens, last = self._buckets.get(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if tokens >= 1:
            self._buckets[caller] = (tokens - 1, now)
            return 0.0
        self._buckets[caller] = (tokens, now)
        if len(self._buckets) > 100_000:  # forget idle callers rather than grow forever
            self._buckets.clear()
        return (1 - tokens) / self.per_second
