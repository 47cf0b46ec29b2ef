"""When a temporarily failed delivery is tried again: exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryRetryPolicy:
    # Delay levels in seconds, one per retry; their count is the number of retries.
    delays: tuple[float, ...]
    # Up to this share is taken off a delay at random, so a gateway outage does not come back
    # as one synchronised wave. Downward only: the delay queue's TTL is the upper bound.
    jitter: float = 0.3

    @property
    def max_attempts(self) -> int:
        """The first send plus one per delay level."""
        return 1 + len(self.delays)

    def level_for(self, attempt: int) -> int | None:
        """The delay level before attempt ``attempt + 1``, or None when none is left."""
        level = attempt - 1
        return level if 0 <= level < len(self.delays) else None

    def delay(self, level: int, rng: random.Random) -> float:
        return self.delays[level] * (1 - self.jitter * rng.random())
