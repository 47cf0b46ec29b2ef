"""How the simulated gateway answers: pure, seeded, so a test can predict it."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from shared.events import DeliveryOutcome, DeliveryReceipt, DeliveryWork

FINAL = (DeliveryOutcome.DELIVERED, DeliveryOutcome.PERMANENT_FAILURE)


class GatewayBehaviour:
    def __init__(
        self,
        temporary_failure_rate: float,
        permanent_failure_rate: float,
        seed: int | None,
        max_temporary_failures: int | None = None,
        failing_channels: Iterable[str] = (),
        down_channels: Iterable[str] = (),
    ) -> None:
        if temporary_failure_rate + permanent_failure_rate > 1:
            raise ValueError("failure rates add up to more than 1")
        self.temporary_failure_rate = temporary_failure_rate
        self.permanent_failure_rate = permanent_failure_rate
        # A transient fault clears: after this many temporary failures a delivery goes through.
        self.max_temporary_failures = max_temporary_failures
        # Channels whose every delivery fails permanently (an unreachable number, say).
        self.failing_channels = frozenset(failing_channels)
        # Channels whose every delivery fails temporarily, for good (a gateway that is down,
        # a phone nobody answers): retried until the retries run out.
        self.down_channels = frozenset(down_channels)
        self._random = random.Random(seed)
        self._temporary: Counter[uuid.UUID] = Counter()
        # Real gateways dedupe on the delivery id; so does the simulator, for deliveries it
        # finished, and it counts every duplicate it is offered so tests can assert none.
        # Kept as UUIDs: turning each into a string cost a sixth of the simulator's CPU.
        self.seen: set[uuid.UUID] = set()
        self.duplicates = 0

    def outcome(self, key: uuid.UUID, channel: str) -> DeliveryOutcome:
        if channel in self.failing_channels:
            return DeliveryOutcome.PERMANENT_FAILURE
        if channel in self.down_channels:
            return DeliveryOutcome.TEMPORARY_FAILURE
        roll = self._random.random()
        if roll < self.permanent_failure_rate:
            return DeliveryOutcome.PERMANENT_FAILURE
        cleared = (
            self.max_temporary_failures is not None
            and self._temporary[key] >= self.max_temporary_failures
        )
        if roll < self.permanent_failure_rate + self.temporary_failure_rate and not cleared:
            self._temporary[key] += 1
            return DeliveryOutcome.TEMPORARY_FAILURE
        return DeliveryOutcome.DELIVERED

    def outcomes(
        self, work: Iterable[DeliveryWork], channel: str = "sms"
    ) -> list[tuple[uuid.UUID, DeliveryOutcome, str | None]]:
        """(delivery id, outcome, detail) per work item: the receipts' content without a
        model each, which cost the simulator a quarter of its CPU in the benchmark."""
        results = []
        # Nothing ever fails: no roll needed (the benchmark's setting).
        always = (
            not self.temporary_failure_rate
            and not self.permanent_failure_rate
            and channel not in self.failing_channels
            and channel not in self.down_channels
        )
        for item in work:
            key = item.delivery_id
            detail: str | None
            if key in self.seen:
                self.duplicates += 1
                outcome, detail = DeliveryOutcome.DELIVERED, "duplicate ignored"
            else:
                outcome = DeliveryOutcome.DELIVERED if always else self.outcome(key, channel)
                if outcome in FINAL:
                    self.seen.add(key)
                detail = None if outcome is DeliveryOutcome.DELIVERED else "simulated failure"
            results.append((key, outcome, detail))
        return results

    def send(self, work: Iterable[DeliveryWork], channel: str = "sms") -> list[DeliveryReceipt]:
        now = datetime.now(UTC)
        return [
            DeliveryReceipt(delivery_id=key, outcome=outcome, at=now, detail=detail)
            for key, outcome, detail in self.outcomes(work, channel)
        ]
